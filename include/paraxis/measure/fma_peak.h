// paraxis/measure/fma_peak.h — this machine's one-thread floating-point peak, measured, never assumed.
//
//   FmaPeak p = measure_fma_peak();   // ~0.1 s
//   fmt::print("{:.1f}% of measured peak ({} {:.0f} GFLOP/s)\n", 100 * achieved / p.gflops, p.isa, p.gflops);
//
// A loop of independent fused multiply-adds on the widest vectors the CPU reports at run time (cpuid:
// AVX-512F, else AVX2 + FMA, else scalar), with enough accumulators to hide the FMA latency on every port
// (16 chains: 4-cycle latency × 2 ports needs 8). The best of several timed repetitions is the figure: on a
// shared machine the fastest repetition is the one least disturbed by other work. It is the denominator of
// the benchmarks' "of peak" columns (docs/training.md: the CPU differs from one machine to the next).
#pragma once

#include <string>

namespace paraxis::measure {

struct FmaPeak {
  double gflops = 0;  // float32 GFLOP/s of one thread (an FMA counts 2 flops per lane)
  std::string isa;    // "avx512", "avx2" or "scalar"
};

FmaPeak measure_fma_peak();

}  // namespace paraxis::measure
