// paraxis/cost/hardware.h — what a device and its links can do, as data the cost model reads.
//
//   HardwareProfile hw = hardware_preset("h100-sxm");        // datasheet figures, source cited in hw.source
//   HardwareProfile me = load_hardware("machine.json");      // written by `paraxis calibrate -o
//   machine.json` double rate = hw.matmul_rate(2.0 * 4096 * 4096 * 4096);  // FLOP/s of one matmul of that
//   many flops double t    = hw.link_for(/*group=*/8).time(1 << 20);     // α + S/β of a 1 MiB point-to-point
//   message
//
// Every profile names its source: a datasheet URL for presets, "measured by paraxis calibrate on <host>" for
// a calibrated machine. Presets give peak dense rates (they are not fitted to any published training
// throughput), so predictions from them are optimistic bounds; a calibrated profile gives achieved rates by
// matmul size. Figures that no datasheet gives (link latency α) are marked "assumed" in the data.
// Units: seconds, bytes, FLOP/s, bytes/s. Link bandwidth β is per direction per device (what a ring step
// moves), so a ring all-reduce of S bytes on n devices costs 2(n−1)/n · S/β + 2(n−1)α (cost.h).
#pragma once

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "paraxis/kernels/conv.h"

namespace paraxis::cost {

// One message size and its time, as calibrate measures it.
struct MessagePoint {
  double bytes   = 0;
  double seconds = 0;
};

struct LinkProfile {
  std::string name;                        // "nvlink4", "ib-ndr", "threads", ...
  double latency_s = 0;                    // α per message (or per ring step)
  double bandwidth = 0;                    // β, bytes/s per direction per device
  bool rendezvous  = false;                // a transfer starts only once the receiver has posted its receive
  std::string source;                      // where α and β come from
  std::vector<MessagePoint> p2p_measured;  // calibrate: send/recv time by size (2 devices)
  std::vector<MessagePoint> allreduce_measured;  // calibrate: all-reduce time by size (2 devices)
  // The collectives run on a helper thread that shares the device's core (threads backend on a machine with
  // a core per device): while a collective runs, the device's compute gets the core half the time.
  bool shares_compute_core = false;
  // Fraction of β that collectives and transfers reach on this link (nccl-tests bus bandwidth over the
  // datasheet figure); 1 for a calibrated link, whose β is already measured.
  double efficiency = 1;
  double achieved_bandwidth() const { return bandwidth * efficiency; }
  double time(double bytes) const { return latency_s + bytes / achieved_bandwidth(); }
  // All-reduce of `bytes` over 2 devices from allreduce_measured (log-log interpolation, the table's last
  // bandwidth beyond its end); a negative value when nothing is measured.
  double measured_allreduce_time(double bytes) const;
};

// Achieved matmul rate for calls of a given size (flops of one call).
struct RatePoint {
  double flops       = 0;
  double flops_per_s = 0;
};

// Achieved rate of one layer pass on `rows` rows (the batch side of the call) against a weight far larger
// than the caches (calibrate: 4096 × 4096), FLOP/s per pass kind. Few rows mean few flops per weight byte:
// the call streams the weight and runs below the rate a square call of the same flops reaches.
struct RowRatePoint {
  double rows    = 0;
  double forward = 0, backward_input = 0, backward_weight = 0;
};

enum class PassKind { kForward, kBackwardInput, kBackwardWeight };

// The same for one Linear shape (in → out features) on `rows` rows: calibrate --mlp-sizes measures a model's
// own layer shapes (and their tensor-parallel halves), because the rate depends on more than the rows (on
// this machine's CPU an input-gradient call with 3584 outputs runs at a third of the 4096 one's rate).
struct ShapeRatePoint {
  double rows = 0, in = 0, out = 0;
  RowRatePoint alone, together;  // together: every device of the node running it at once (0: not measured)
  // The node's devices taking turns, one call each while the others wait (0: not measured): how a device of
  // a multi-device layout computes while the others idle — placement's stages, a pipeline's fill and drain.
  // On this VM it runs ~4–8% below `alone` (one core computing continuously): the second core is a little
  // slower, and a core that waited runs its next call slower.
  RowRatePoint turns;
};

// The same for one convolution call (kernels/conv.h; call.n: the samples of the call, the rows of its rates):
// `paraxis calibrate --model cnn|alexnet` and the in-run calibration measure a CNN's own conv calls (and
// under sp each member's window), because a convolution's rate depends on its whole shape, not its flops.
struct ConvRatePoint {
  Conv2dShape call;
  RowRatePoint alone, together, turns;  // as ShapeRatePoint's
};

// How a GPU's GEMM library runs a matrix product (gemm.h): output tiles of tile_m × tile_n, one tile per
// streaming multiprocessor at a time, at `achievable_flops` per device when every SM is busy (the measured
// ceiling of a large, perfectly shaped matmul, not the datasheet peak). sms 0: no such model (CPU profiles).
struct GemmProfile {
  double achievable_flops = 0;
  int sms                 = 0;
  std::vector<std::pair<int, int>> tiles;  // candidate tile shapes; the library picks the fastest
  std::string source;
};

struct HardwareProfile {
  std::string name;
  std::string source;  // datasheet URL(s) or the calibration that measured it
  std::string dtype     = "fp32";
  int bytes_per_element = 4;  // training dtype (activations, gradients on the wire)
  // Bytes per parameter of a rounded copy the matmuls read beside the fp32 weights: 2 under --precision bf16
  // on a CPU profile (each Linear keeps its weight's bf16 rounding from the forward to the input pass), else 0.
  int weight_copy_bytes = 0;
  double peak_flops     = 0;  // dense, per device, in `dtype`
  // Datasheet peaks by number format ("fp32", "tf32", "bf16", ...; GPU presets), which --precision reads
  // (cost/precision.h); empty on a calibrated CPU.
  std::map<std::string, double> peak_by_dtype;
  // Measured bf16 ÷ fp32 matmul rate (`paraxis calibrate`: one thread, bf16 inputs, fp32 accumulation, as
  // `--precision bf16` runs them; below 1 where oneDNN emulates bf16); 0: not measured.
  double bf16_matmul_speedup = 0;
  // Achieved rate by call size, sorted by flops (empty: peak_flops for every size).
  std::vector<RatePoint> matmul_rates;
  double memory_bandwidth = 0;  // bytes/s per device (elementwise passes, optimizer step)
  // Fraction of memory_bandwidth that streaming kernels reach (GPU presets: measured over datasheet; a
  // calibrated profile measures its bandwidth and keeps 1).
  double memory_efficiency = 1;
  GemmProfile gemm;              // GPU presets: tile and wave model of each GEMM (gemm.h); empty on a CPU
  double memory_bytes      = 0;  // capacity per device
  double kernel_overhead_s = 0;  // fixed cost per kernel call (launch, dispatch)
  // The runtime's own fixed costs (measure/fixed_costs.h; 0 in the GPU presets, where kernel launches are
  // asynchronous and hidden behind the GPU's work): per compute action of the step list it interprets (F, B,
  // I, W, R, FLUSH_W: dispatch, buffers, trace record) and per step (loss, optimizer launch, bookkeeping).
  double action_overhead_s = 0;
  double step_overhead_s   = 0;
  // Rate when every core of the machine computes at once, relative to one alone (1 for accelerators).
  double concurrent_efficiency = 1;
  // Skinny-call rates by rows (empty: none), one device alone and every device of the node at once.
  std::vector<RowRatePoint> row_rates, row_rates_concurrent;
  std::vector<ShapeRatePoint> shape_rates;  // by (in, out), then rows
  std::vector<ConvRatePoint> conv_rates;    // by call, then samples (conv_rates.h: empty in older profiles)
  // Per device when every device of the node streams memory at once (0: memory_bandwidth).
  double memory_bandwidth_concurrent = 0;
  int devices_per_node               = 1;
  LinkProfile intra_node;  // between devices of one node (NVLink, shared memory)
  LinkProfile inter_node;  // between nodes (InfiniBand, Ethernet)

  // Interpolated in log(flops) between measured points; clamped at the ends.
  double matmul_rate(double flops_per_call) const;
  // Rate of a layer pass on `rows` rows per call from row_rates (row_rates_concurrent when `concurrent`);
  // interpolated in log(rows), clamped at the ends; 0 when there is no table or rows <= 0.
  double row_rate(PassKind kind, double rows, bool concurrent) const;
  static double row_rate_in(const std::vector<RowRatePoint>& table, PassKind kind, double rows);
  // From shape_rates for exactly this in × out (interpolated in log(rows), clamped); 0 when not measured.
  double shape_rate(PassKind kind, double rows, double in, double out, bool concurrent) const;
  // From conv_rates for exactly this call but its samples (interpolated in log(call.n), clamped); 0 when not
  // measured.
  double conv_rate(PassKind kind, const Conv2dShape& call, bool concurrent) const;
  // Whether any shape rate was measured in turns, and this profile with those in place of the rates alone
  // (what predict_step uses for a multi-device layout's devices computing while the others wait).
  bool has_turn_rates() const;
  HardwareProfile turn_rates_as_alone() const;
  // Concurrent: never above the bandwidth alone (a higher calibrated figure is timing noise).
  double bandwidth(bool concurrent) const {
    return memory_efficiency * (concurrent && memory_bandwidth_concurrent > 0
                                    ? std::min(memory_bandwidth_concurrent, memory_bandwidth)
                                    : memory_bandwidth);
  }
  // The link a group of `group_size` devices, packed on nodes, is limited by.
  const LinkProfile& link_for(int group_size) const {
    return group_size <= devices_per_node ? intra_node : inter_node;
  }
  // The link a collective over `group_size` devices, `stride` ranks apart, runs on: inside one node the
  // intra-node link; across nodes the inter-node link with the bandwidth of every member on a node
  // together, since the library runs one ring per network port (a node's k members move k ports' worth:
  // nccl-tests counts a DGX A100 node's 4 HDR ports as 100 GB/s of all-reduce bus bandwidth,
  // https://github.com/NVIDIA/nccl-tests/issues/119), never above the intra-node link.
  LinkProfile collective_link(int group_size, int stride) const;
  std::string summary() const;  // one paragraph: rates, bandwidths, links, source
};

nlohmann::json to_json(const HardwareProfile& hw);
// User errors (exit 2) for missing or non-positive required fields, naming the field.
HardwareProfile hardware_from_json(const nlohmann::json& j, const std::string& what = "hardware profile");
LinkProfile link_from_json(const nlohmann::json& j, const std::string& what);
HardwareProfile load_hardware(const std::string& path);
void save_hardware(const HardwareProfile& hw, const std::string& path);

// Built-in presets: a100-80gb, h100-sxm, h200, cpu-this-machine (device presets, with their node's links).
HardwareProfile hardware_preset(const std::string& name);
std::vector<std::string> hardware_preset_names();
// Interconnect presets (nvlink3, nvlink4, ib-hdr, ib-ndr, threads); a device preset refers to them by name.
LinkProfile link_preset(const std::string& name);
std::vector<std::string> link_preset_names();

}  // namespace paraxis::cost
