// paraxis/cost/precision.h — a hardware profile priced at a training precision (`--precision fp32|bf16` of
// `paraxis predict`, `plan` and `train --predict`), with the assumption it makes, to print beside the figure.
//
//   PricedProfile p = at_precision(hardware_preset("a100-80gb"), "fp32");
//   // p.hw.peak_flops == 19.5e12 (the datasheet's FP32 rate), p.assumption says so
//
// GPU presets are bf16 profiles (dense Tensor Core rate, 2-byte activations); fp32 on them means IEEE fp32
// matmuls on the CUDA cores — PyTorch's default since 1.12 (torch.backends.cuda.matmul.allow_tf32 = False) —
// at the datasheet's FP32 rate (peak_by_dtype["fp32"]), the GEMM ceiling scaled by the same factor (the same
// fraction of peak reached: assumed), with 4-byte activations and gradients.
// CPU profiles are fp32; bf16 on them is paraxis's --precision bf16 (bf16 matmul inputs, fp32 accumulation,
// activations, gradients and optimizer state): every matmul rate (by size, by rows, by Linear shape) times
// the measured bf16 ÷ fp32 speedup (bf16_matmul_speedup, `paraxis calibrate`); memory unchanged. A CPU profile
// without that measurement cannot be priced at bf16: a user error (exit 2) that says how to measure it.
#pragma once

#include <string>

#include "paraxis/cost/hardware.h"

namespace paraxis::cost {

struct PricedProfile {
  HardwareProfile hw;
  std::string assumption;  // one sentence: which rate the matmuls are priced at, and where it comes from
};

// precision: "fp32" or "bf16" (anything else: a user error naming the value and the valid ones).
PricedProfile at_precision(const HardwareProfile& hw, const std::string& precision);

}  // namespace paraxis::cost
