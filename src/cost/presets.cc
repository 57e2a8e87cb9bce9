// Built-in hardware presets as JSON data (the same format `paraxis calibrate` writes). Peak rates and
// bandwidths are copied from the vendors' public datasheets, cited in each "source"; link latencies are not
// on any datasheet and are marked as assumptions. Nothing here is fitted to a published training throughput.
#include <map>

#include "paraxis/core/error.h"
#include "paraxis/cost/hardware.h"

namespace paraxis::cost {

namespace {

// Interconnects. Bandwidth is per direction per device: NVLink figures on datasheets are bidirectional totals
// (A100: 600 GB/s, H100/H200: 900 GB/s), halved here; InfiniBand is per port (HDR 200 Gb/s, NDR 400 Gb/s)
// with one port per GPU as in DGX A100 / DGX H100.
const char* kLinks = R"json({
  "nvlink3": {"latency_s": 5e-6, "bandwidth": 300e9, "efficiency": 0.67,
    "source": "NVIDIA A100 datasheet: NVLink 600 GB/s bidirectional (https://www.nvidia.com/content/dam/en-zz/Solutions/Data-Center/a100/pdf/nvidia-a100-datasheet-us-nvidia-1758950-r4-web.pdf); efficiency 0.67: nccl-tests all_reduce_perf on 8 NVLink-connected A100-SXM4-80GB reaches ~200 GB/s bus bandwidth for large messages (https://github.com/NVIDIA/nccl-tests/issues/149; 208 GB/s in https://github.com/NVIDIA/nccl-tests/issues/178), 200 of 300 GB/s; latency 5 us assumed"},
  "nvlink4": {"latency_s": 5e-6, "bandwidth": 450e9,
    "source": "NVIDIA H100 datasheet: NVLink 900 GB/s bidirectional (https://resources.nvidia.com/en-us-tensor-core/nvidia-tensor-core-gpu-datasheet); latency 5 us assumed"},
  "ib-hdr": {"latency_s": 10e-6, "bandwidth": 25e9, "efficiency": 0.96,
    "source": "NVIDIA ConnectX-6 / DGX A100: HDR InfiniBand 200 Gb/s per port, one port per GPU (https://www.nvidia.com/content/dam/en-zz/Solutions/Data-Center/nvidia-dgx-a100-datasheet.pdf); efficiency 0.96: nccl-tests all_reduce_perf over 3 nodes of 8 A100-SXM4 with HDR reaches a 96 GB/s peak bus bandwidth of 100 GB/s theoretical (https://github.com/NVIDIA/nccl-tests/issues/119); latency 10 us assumed"},
  "ib-ndr": {"latency_s": 10e-6, "bandwidth": 50e9,
    "source": "NVIDIA ConnectX-7 / DGX H100: NDR InfiniBand 400 Gb/s per port, one port per GPU (https://resources.nvidia.com/en-us-dgx-systems/ai-enterprise-dgx); latency 10 us assumed"},
  "threads": {"latency_s": 5e-6, "bandwidth": 12e9, "rendezvous": true,
    "source": "the project design notes (a 2-core Zen 5 machine) / comm benchmark on this machine: threads backend all-reduce busbw 10-14 GB/s; latency assumed"}
})json";

// Devices. peak_flops is the dense (no sparsity) bf16 Tensor Core rate; "peak" holds the datasheet rates by
// format (tf32 dense: the sparse figure halved), of which `--precision fp32` prices at "fp32" (IEEE fp32 on the
// CUDA cores, PyTorch's default with TF32 off; cost/precision.h). memory_bandwidth is HBM bandwidth.
const char* kDevices = R"json({
  "a100-80gb": {"dtype": "bf16", "bytes_per_element": 2, "peak_flops": 312e12,
    "peak": {"bf16": 312e12, "fp16": 312e12, "tf32": 156e12, "fp32": 19.5e12},
    "memory_bandwidth": 2039e9, "memory_efficiency": 0.88, "memory_bytes": 80e9, "kernel_overhead_s": 5e-6,
    "devices_per_node": 8, "intra_node": "nvlink3", "inter_node": "ib-hdr",
    "gemm": {"achievable_flops": 267.9e12, "sms": 108, "tiles": [[256, 128], [128, 256]],
      "source": "measured bf16 matmul ceiling of an A100 SXM, 267.9 TFLOPS (85.9% of 312) at 6912x16384x2048, CUDA 12.1: Maximum Achievable Matmul FLOPS table, https://github.com/stas00/ml-engineering/blob/master/compute/accelerator/README.md; 108 SMs: NVIDIA A100 Tensor Core GPU Architecture whitepaper; 256x128 tiles, tile and wave quantization: NVIDIA Matrix Multiplication Background User's Guide (https://docs.nvidia.com/deeplearning/performance/dl-performance-matrix-multiplication/)"},
    "source": "NVIDIA A100 Tensor Core GPU datasheet (A100 80GB SXM: BF16 312 TFLOPS dense, FP32 19.5 TFLOPS, HBM2e 2,039 GB/s, 80 GB): https://www.nvidia.com/content/dam/en-zz/Solutions/Data-Center/a100/pdf/nvidia-a100-datasheet-us-nvidia-1758950-r4-web.pdf; memory efficiency 0.88: a read kernel on an A100 80GB SXM measured 1.80 TB/s, 88% of 2.04 TB/s by Nsight Compute (https://forums.developer.nvidia.com/t/trouble-to-reach-peak-bandwidth-of-a100/339083); kernel overhead 5 us assumed"},
  "h100-sxm": {"dtype": "bf16", "bytes_per_element": 2, "peak_flops": 989e12,
    "peak": {"bf16": 989e12, "fp16": 989e12, "tf32": 494e12, "fp32": 67e12},
    "memory_bandwidth": 3.35e12, "memory_bytes": 80e9, "kernel_overhead_s": 5e-6, "devices_per_node": 8,
    "intra_node": "nvlink4", "inter_node": "ib-ndr",
    "gemm": {"achievable_flops": 792.1e12, "sms": 132, "tiles": [[256, 128], [128, 256]],
      "source": "measured bf16 matmul ceiling of an H100 SXM, 792.1 TFLOPS (80.1% of 989) at 6144x17920x2816, CUDA 12.1: https://github.com/stas00/ml-engineering/blob/master/compute/accelerator/README.md; 132 SMs (H100 SXM5); tiles as for the A100 (no H100 figure found: assumed)"},
    "source": "NVIDIA H100 Tensor Core GPU datasheet (H100 SXM: BF16 1,979 TFLOPS with sparsity = 989 dense, FP32 67 TFLOPS, HBM3 3.35 TB/s, 80 GB): https://resources.nvidia.com/en-us-tensor-core/nvidia-tensor-core-gpu-datasheet; kernel overhead 5 us assumed"},
  "h200": {"dtype": "bf16", "bytes_per_element": 2, "peak_flops": 989e12,
    "peak": {"bf16": 989e12, "fp16": 989e12, "tf32": 494e12, "fp32": 67e12},
    "memory_bandwidth": 4.8e12, "memory_bytes": 141e9, "kernel_overhead_s": 5e-6, "devices_per_node": 8,
    "intra_node": "nvlink4", "inter_node": "ib-ndr",
    "gemm": {"achievable_flops": 792.1e12, "sms": 132, "tiles": [[256, 128], [128, 256]],
      "source": "no H200 matmul ceiling found: the H100 SXM's measured 792.1 TFLOPS (same GH100 compute die and clocks), https://github.com/stas00/ml-engineering/blob/master/compute/accelerator/README.md; 132 SMs; tiles assumed as for the A100"},
    "source": "NVIDIA H200 datasheet (H200 SXM: BF16 1,979 TFLOPS with sparsity = 989 dense, FP32 67 TFLOPS, HBM3e 4.8 TB/s, 141 GB): https://www.nvidia.com/en-us/data-center/h200/; kernel overhead 5 us assumed"},
  "cpu-this-machine": {"dtype": "fp32", "bytes_per_element": 4, "peak_flops": 245e9,
    "matmul_rates": [[2.6e5, 20e9], [2.1e6, 80e9], [1.7e7, 170e9], [1.3e8, 220e9], [1.1e9, 240e9], [8.6e9, 245e9]],
    "memory_bandwidth": 20e9, "memory_bytes": 8e9, "kernel_overhead_s": 2e-6, "concurrent_efficiency": 0.96,
    "devices_per_node": 2, "intra_node": "threads", "inter_node": "threads",
    "source": "measured on a 2-core Zen 5 machine when the project began (oneDNN f32 matmul 230-260 GFLOP/s per core, one-thread memcpy ~20 GB/s, two device threads at 221 + 223 vs 230 GFLOP/s alone); small-size rates from paraxis calibrate on this machine. Run `paraxis calibrate -o machine.json` for measured figures."}
})json";

const nlohmann::json& links() {
  static const nlohmann::json j = nlohmann::json::parse(kLinks);
  return j;
}
const nlohmann::json& devices() {
  static const nlohmann::json j = nlohmann::json::parse(kDevices);
  return j;
}

std::string join_keys(const nlohmann::json& j) {
  std::string out;
  for (auto it = j.begin(); it != j.end(); ++it) out += (out.empty() ? "" : ", ") + it.key();
  return out;
}

}  // namespace

LinkProfile link_preset(const std::string& name) {
  PX_USER_CHECK(links().contains(name), "unknown interconnect preset '{}'; use one of {}", name,
                join_keys(links()));
  nlohmann::json j = links().at(name);
  j["name"]        = name;
  return link_from_json(j, "interconnect preset " + name);
}

std::vector<std::string> link_preset_names() {
  std::vector<std::string> out;
  for (auto it = links().begin(); it != links().end(); ++it) out.push_back(it.key());
  return out;
}

HardwareProfile hardware_preset(const std::string& name) {
  PX_USER_CHECK(devices().contains(name), "unknown hardware preset '{}'; use one of {} (or --machine FILE)",
                name, join_keys(devices()));
  nlohmann::json j = devices().at(name);
  j["name"]        = name;
  for (const char* key : {"intra_node", "inter_node"}) {
    nlohmann::json link = links().at(j[key].get<std::string>());
    link["name"]        = j[key];
    j[key]              = link;
  }
  return hardware_from_json(j, "hardware preset " + name);
}

std::vector<std::string> hardware_preset_names() {
  std::vector<std::string> out;
  for (auto it = devices().begin(); it != devices().end(); ++it) out.push_back(it.key());
  return out;
}

}  // namespace paraxis::cost
