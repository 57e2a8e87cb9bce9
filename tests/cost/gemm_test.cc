// The GEMM model (gemm.h) and the hierarchical links (hardware.h) against values worked by hand from their
// sources: tile and wave quantization on the A100's 108 SMs, the measured matmul ceiling, the achievable
// memory bandwidth, and nccl-tests' bus bandwidths.
#include <gtest/gtest.h>

#include "paraxis/cost/cost.h"
#include "paraxis/cost/gemm.h"
#include "paraxis/cost/hardware.h"

namespace paraxis::cost {
namespace {

TEST(Gemm, WaveQuantizationOnA100) {
  const GemmProfile& a100 = hardware_preset("a100-80gb").gemm;
  // GPT-3 175B's QKV at tp 8 on one sequence: 2048 × 4608 outputs = 8 × 36 tiles of 256 × 128 (or 16 × 18
  // of 128 × 256) = 288 tiles, 3 waves of 108 SMs of which 2.67 are busy: 8/9.
  EXPECT_NEAR(gemm_efficiency({.m = 2048, .n = 4608, .k = 12288}, a100), 8.0 / 9.0, 1e-12);
  // Its weight gradient, 12288 × 4608 = 48 × 36 = 1728 tiles = 16 full waves.
  EXPECT_NEAR(gemm_efficiency({.m = 12288, .n = 4608, .k = 2048}, a100), 1.0, 1e-12);
  // Tile quantization: 300 × 128 outputs need 2 tiles of 256 × 128 (or 3 of 128 × 256), one wave of 108.
  EXPECT_NEAR(gemm_efficiency({.m = 300, .n = 128, .k = 4096}, a100), 300.0 * 128 / (108 * 256 * 128), 1e-12);
  // A batched GEMM spreads its tiles over the SMs too: 12 heads × 8 × 16 = 1536 tiles, 15 waves.
  EXPECT_NEAR(gemm_efficiency({.m = 2048, .n = 2048, .k = 128, .batch = 12}, a100),
              2048.0 * 2048 * 12 / (15 * 108 * 256 * 128), 1e-12);
}

TEST(Gemm, TimeIsComputeAtTheMeasuredCeilingOrMemory) {
  const HardwareProfile hw = hardware_preset("a100-80gb");
  // Compute-bound: 2·2048·4608·12288 flops at 267.9 TFLOP/s × 8/9, plus 5 us of launch.
  const Gemm qkv{.m = 2048, .n = 4608, .k = 12288};
  EXPECT_NEAR(gemm_time(qkv, hw), 2.0 * 2048 * 4608 * 12288 / (267.9e12 * 8 / 9) + 5e-6, 1e-12);
  // q·kᵀ with k = 128 is memory-bound: A, B and C once in bf16 at 0.88 × 2039 GB/s.
  const Gemm scores{.m = 2048, .n = 2048, .k = 128, .batch = 12};
  const double bytes = (2048.0 * 128 + 128.0 * 2048 + 2048.0 * 2048) * 12 * 2;
  EXPECT_NEAR(gemm_time(scores, hw), bytes / (0.88 * 2039e9) + 5e-6, 1e-12);
  EXPECT_GT(bytes / (0.88 * 2039e9), scores.flops() / 267.9e12);
  EXPECT_EQ(gemm_time({.m = 0, .n = 8, .k = 8}, hw), 0.0);
}

TEST(Gemm, ProfileWithoutAGemmModelUsesItsRateBySize) {
  const HardwareProfile cpu = hardware_preset("cpu-this-machine");
  const Gemm g{.m = 256, .n = 4096, .k = 4096};
  EXPECT_EQ(gemm_efficiency(g, cpu.gemm), 1.0);
  const double bytes = (256.0 * 4096 * 2 + 4096.0 * 4096) * 4;
  EXPECT_NEAR(gemm_time(g, cpu),
              std::max(g.flops() / cpu.matmul_rate(g.flops()), bytes / cpu.memory_bandwidth) + 2e-6, 1e-15);
}

TEST(Links, AchievedBandwidthIsTheMeasuredFraction) {
  const HardwareProfile hw = hardware_preset("a100-80gb");
  EXPECT_NEAR(hw.intra_node.achieved_bandwidth(), 0.67 * 300e9, 1);  // nccl-tests: ~200 GB/s bus bandwidth
  // A ring all-reduce of 64 MB over 8 GPUs of one node: 2·7/8·S/β + 14 α.
  const LinkProfile tp = hw.collective_link(8, 1);
  EXPECT_EQ(tp.name, "nvlink3");
  EXPECT_NEAR(allreduce_time(64e6, 8, tp), 2.0 * 7 / 8 * 64e6 / (0.67 * 300e9) + 14 * 5e-6, 1e-12);
  EXPECT_NEAR(reduce_scatter_time(64e6, 8, tp), 7.0 / 8 * 64e6 / (0.67 * 300e9) + 7 * 5e-6, 1e-12);
}

TEST(Links, CollectiveAcrossNodesUsesEveryPortOfTheNode) {
  const HardwareProfile hw = hardware_preset("a100-80gb");
  const double ib          = 0.96 * 25e9;  // HDR, one port per GPU, nccl-tests' 96 of 100 GB/s
  // dp 16 with tp 8: one member per node, one port: 24 GB/s.
  EXPECT_NEAR(hw.collective_link(16, 8).bandwidth, ib, 1);
  // dp 16 with tp 2: four members per node move four ports' worth, 96 GB/s.
  const LinkProfile four = hw.collective_link(16, 2);
  EXPECT_NEAR(four.bandwidth, 4 * ib, 1);
  EXPECT_NEAR(allreduce_time(1e9, 16, four), 2.0 * 15 / 16 * 1e9 / (4 * ib) + 30 * 10e-6, 1e-12);
  // dp 32 with tp 1: eight per node would be 192 GB/s, under NVLink's 201: the ports decide.
  EXPECT_NEAR(hw.collective_link(32, 1).bandwidth, 8 * ib, 1);
  // Inside a node: the NVLink link itself.
  EXPECT_EQ(hw.collective_link(4, 2).name, "nvlink3");
}

}  // namespace
}  // namespace paraxis::cost
