// paraxis/cost/gemm.h — the time of one matrix product on a device, from its shape.
//
//   Gemm g{.m = 2048, .n = 4608, .k = 12288};            // C (m × n) = A (m × k) · B (k × n)
//   double eff = gemm_efficiency(g, hardware_preset("a100-80gb").gemm);     // 0.889: 288 tiles on 108 SMs
//   double t   = gemm_time(g, hardware_preset("a100-80gb"));                // seconds
//
// A GPU library (cuBLAS) splits C into tiles of tile_m × tile_n and runs one tile per streaming
// multiprocessor (SM) at a time, in waves. The last wave is partly idle and a tile that overhangs C computes
// zeros (NVIDIA, "Matrix Multiplication Background User's Guide", §3 "Dimension Quantization Effects":
// tile and wave quantization; https://docs.nvidia.com/deeplearning/performance/dl-performance-matrix-
// multiplication/). Efficiency = useful outputs / (waves · SMs · tile area), for the best of the profile's
// tiles; time = flops / (achievable_flops · efficiency), where achievable_flops is a measured ceiling (the
// preset cites it), but never below the time to read A and B and write C once at the achievable memory
// bandwidth (a product with a short k, like attention's q·kᵀ, is memory-bound). Plus the launch overhead.
// A profile without a GEMM model (a calibrated CPU) uses its measured rate by call size (matmul_rate).
#pragma once

#include "paraxis/cost/hardware.h"

namespace paraxis::cost {

struct Gemm {
  double m = 0, n = 0, k = 0;
  double batch = 1;  // independent products of this shape in one call (a batched GEMM: attention heads)
  double flops() const { return 2.0 * m * n * k * batch; }
};

// Useful fraction of the SMs' tile slots over the whole call, for the best candidate tile (1 when the
// profile has no GEMM model).
double gemm_efficiency(const Gemm& g, const GemmProfile& p);
// Seconds for one call on one device, launch overhead included; 0 for an empty product.
double gemm_time(const Gemm& g, const HardwareProfile& hw);

}  // namespace paraxis::cost
