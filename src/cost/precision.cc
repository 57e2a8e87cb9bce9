// A hardware profile priced at fp32 or bf16 (precision.h).
#include "paraxis/cost/precision.h"

#include <fmt/format.h>

#include "paraxis/core/error.h"
#include "paraxis/kernels/precision.h"

namespace paraxis::cost {

namespace {

void scale_rows(std::vector<RowRatePoint>& table, double f) {
  for (RowRatePoint& p : table) p.forward *= f, p.backward_input *= f, p.backward_weight *= f;
}

// Every matmul rate of the profile times f (peak, by size, by rows, by Linear shape and conv call, the GEMM
// ceiling).
void scale_matmul_rates(HardwareProfile& hw, double f) {
  hw.peak_flops *= f;
  hw.gemm.achievable_flops *= f;
  for (RatePoint& r : hw.matmul_rates) r.flops_per_s *= f;
  scale_rows(hw.row_rates, f);
  scale_rows(hw.row_rates_concurrent, f);
  for (ShapeRatePoint& s : hw.shape_rates)
    for (RowRatePoint* p : {&s.alone, &s.together, &s.turns})
      p->forward *= f, p->backward_input *= f, p->backward_weight *= f;
  for (ConvRatePoint& c : hw.conv_rates)
    for (RowRatePoint* p : {&c.alone, &c.together, &c.turns})
      p->forward *= f, p->backward_input *= f, p->backward_weight *= f;
}

PricedProfile bf16_profile_at_fp32(HardwareProfile hw) {
  const auto fp32 = hw.peak_by_dtype.find("fp32");
  PX_USER_CHECK(fp32 != hw.peak_by_dtype.end(),
                "--precision fp32: profile {} is a bf16 profile without an fp32 peak (its \"peak\" has no "
                "\"fp32\" entry); add one, or use --precision bf16",
                hw.name);
  const double bf16_peak = hw.peak_flops;
  scale_matmul_rates(hw, fp32->second / bf16_peak);
  hw.dtype             = "fp32";
  hw.bytes_per_element = 4;
  std::string gemm     = hw.gemm.sms > 0 ? fmt::format(
                                               ", GEMM ceiling {:.3g} TFLOP/s (the bf16 ceiling's "
                                                   "fraction of peak, assumed)",
                                               hw.gemm.achievable_flops / 1e12)
                                         : "";
  return {hw, fmt::format("--precision fp32 on {}: IEEE fp32 matmuls (PyTorch's default, TF32 off) at the "
                          "datasheet FP32 rate {:.3g} TFLOP/s, not the bf16 {:.3g}{}; activations and "
                          "gradients in 4 bytes",
                          hw.name, hw.peak_flops / 1e12, bf16_peak / 1e12, gemm)};
}

PricedProfile fp32_profile_at_bf16(HardwareProfile hw) {
  PX_USER_CHECK(
      hw.bf16_matmul_speedup > 0,
      "--precision bf16: profile {} has no measured bf16 matmul rate (bf16_matmul_speedup); measure "
      "it with `paraxis calibrate -o m.json` and pass --machine m.json (train --predict measures it "
      "in the run), or use --precision fp32",
      hw.name);
  scale_matmul_rates(hw, hw.bf16_matmul_speedup);
  hw.weight_copy_bytes = 2;
  return {hw, fmt::format("--precision bf16 on {}: every matmul rate x {:.2f}, the measured bf16 / fp32 "
                          "matmul speedup (bf16 inputs, fp32 accumulation); activations, gradients and "
                          "optimizer state stay fp32; memory counts a 2-byte bf16 copy of every parameter "
                          "(an upper bound: only the Linear weights keep one)",
                          hw.name, hw.bf16_matmul_speedup)};
}

}  // namespace

PricedProfile at_precision(const HardwareProfile& hw, const std::string& precision) {
  const Precision p = parse_precision(precision);  // a user error for anything but fp32 and bf16
  if (p == Precision::kFp32 && hw.dtype == "bf16") return bf16_profile_at_fp32(hw);
  if (p == Precision::kBf16 && hw.dtype == "fp32") return fp32_profile_at_bf16(hw);
  return {hw, fmt::format("--precision {} on {}: matmuls at the profile's own {} rates ({:.3g} TFLOP/s peak)",
                          precision, hw.name, hw.dtype, hw.peak_flops / 1e12)};
}

}  // namespace paraxis::cost
