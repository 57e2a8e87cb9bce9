// A hardware profile priced at fp32 or bf16 (cost/precision.h) against hand-computed values: a GPU preset at
// fp32 takes its datasheet FP32 rate, a CPU profile at bf16 its measured speedup; what cannot be priced, and
// an unknown precision, are user errors; the new fields round-trip through JSON.
#include <gtest/gtest.h>

#include "paraxis/cost/hardware.h"
#include "paraxis/cost/precision.h"
#include "test_support/user_error.h"

namespace paraxis::cost {
namespace {

TEST(Precision, GpuPresetAtFp32UsesTheDatasheetFp32Rate) {
  const PricedProfile a100 = at_precision(hardware_preset("a100-80gb"), "fp32");
  EXPECT_DOUBLE_EQ(a100.hw.peak_flops, 19.5e12);
  // The GEMM ceiling keeps its fraction of peak: 267.9 × 19.5 / 312 = 16.74375 TFLOP/s.
  EXPECT_NEAR(a100.hw.gemm.achievable_flops, 16.74375e12, 1e3);
  EXPECT_EQ(a100.hw.bytes_per_element, 4);
  EXPECT_EQ(a100.hw.dtype, "fp32");
  EXPECT_NE(a100.assumption.find("19.5 TFLOP/s"), std::string::npos) << a100.assumption;
  EXPECT_NE(a100.assumption.find("TF32 off"), std::string::npos) << a100.assumption;

  const PricedProfile h100 = at_precision(hardware_preset("h100-sxm"), "fp32");
  EXPECT_DOUBLE_EQ(h100.hw.peak_flops, 67e12);
  EXPECT_NEAR(h100.hw.gemm.achievable_flops, 792.1e12 * 67 / 989, 1e3);
}

TEST(Precision, GpuPresetAtBf16IsUnchanged) {
  const PricedProfile p = at_precision(hardware_preset("h100-sxm"), "bf16");
  EXPECT_DOUBLE_EQ(p.hw.peak_flops, 989e12);
  EXPECT_DOUBLE_EQ(p.hw.gemm.achievable_flops, 792.1e12);
  EXPECT_EQ(p.hw.bytes_per_element, 2);
}

TEST(Precision, CpuProfileAtBf16ScalesEveryMatmulRateByTheMeasuredSpeedup) {
  HardwareProfile cpu     = hardware_preset("cpu-this-machine");
  cpu.bf16_matmul_speedup = 1.5;
  ShapeRatePoint s;
  s.rows = 64, s.in = 128, s.out = 256;
  s.alone               = {64, 10e9, 20e9, 30e9};
  s.turns               = {64, 8e9, 0, 0};
  cpu.shape_rates       = {s};
  cpu.row_rates         = {{32, 40e9, 50e9, 60e9}};
  const PricedProfile p = at_precision(cpu, "bf16");
  EXPECT_DOUBLE_EQ(p.hw.peak_flops, 245e9 * 1.5);
  ASSERT_EQ(p.hw.matmul_rates.size(), cpu.matmul_rates.size());
  EXPECT_DOUBLE_EQ(p.hw.matmul_rates.front().flops_per_s, 20e9 * 1.5);
  EXPECT_NEAR(p.hw.matmul_rate(8.6e9), 245e9 * 1.5, 1e3);
  EXPECT_DOUBLE_EQ(p.hw.shape_rates[0].alone.backward_weight, 45e9);
  EXPECT_DOUBLE_EQ(p.hw.shape_rates[0].turns.forward, 12e9);
  EXPECT_DOUBLE_EQ(p.hw.row_rates[0].backward_input, 75e9);
  EXPECT_EQ(p.hw.bytes_per_element, 4);  // activations and gradients stay fp32
  EXPECT_EQ(p.hw.weight_copy_bytes, 2);  // each Linear's bf16 weight copy
  EXPECT_EQ(at_precision(cpu, "fp32").hw.weight_copy_bytes, 0);
  EXPECT_EQ(at_precision(hardware_preset("a100-80gb"), "bf16").hw.weight_copy_bytes, 0);
  EXPECT_DOUBLE_EQ(p.hw.memory_bandwidth, cpu.memory_bandwidth);
  EXPECT_NE(p.assumption.find("x 1.50"), std::string::npos) << p.assumption;
  // fp32 on a CPU profile: its own rates.
  EXPECT_DOUBLE_EQ(at_precision(cpu, "fp32").hw.peak_flops, 245e9);
}

TEST(Precision, WhatCannotBePricedIsAUserError) {
  testing::expect_user_error([] { at_precision(hardware_preset("cpu-this-machine"), "bf16"); },
                             {"no measured bf16 matmul rate", "paraxis calibrate"});
  HardwareProfile gpu = hardware_preset("a100-80gb");
  gpu.peak_by_dtype.clear();
  testing::expect_user_error([&] { at_precision(gpu, "fp32"); }, {"no \"fp32\" entry", "--precision bf16"});
  testing::expect_user_error([] { at_precision(hardware_preset("a100-80gb"), "fp16"); },
                             {"'fp16'", "use fp32"});
}

TEST(Precision, PeaksAndSpeedupRoundTripThroughJson) {
  HardwareProfile hw         = hardware_preset("a100-80gb");
  hw.bf16_matmul_speedup     = 1.25;
  const HardwareProfile back = hardware_from_json(to_json(hw));
  EXPECT_DOUBLE_EQ(back.peak_by_dtype.at("fp32"), 19.5e12);
  EXPECT_DOUBLE_EQ(back.peak_by_dtype.at("tf32"), 156e12);
  EXPECT_DOUBLE_EQ(back.bf16_matmul_speedup, 1.25);
  nlohmann::json j         = to_json(hw);
  j["bf16_matmul_speedup"] = -1;
  testing::expect_user_error([&] { hardware_from_json(j); }, "bf16_matmul_speedup = -1");
}

}  // namespace
}  // namespace paraxis::cost
