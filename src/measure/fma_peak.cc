#include "paraxis/measure/fma_peak.h"

#include <immintrin.h>

#include <algorithm>
#include <chrono>

namespace paraxis::measure {

namespace {

constexpr int kChains = 16;        // independent accumulators (see the header)
constexpr long kIters = 1L << 20;  // per repetition: 16 Mi vector FMAs
constexpr int kReps   = 20;

// Each chain runs acc = acc * m + a, which stays bounded, and the sum is returned so none is dropped.
__attribute__((target("avx512f"))) float fma_loop_avx512(long iters) {
  __m512 acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = _mm512_set1_ps(static_cast<float>(i));
  const __m512 m = _mm512_set1_ps(0.999f), a = _mm512_set1_ps(0.001f);
  for (long it = 0; it < iters; ++it)
    for (int i = 0; i < kChains; ++i) acc[i] = _mm512_fmadd_ps(acc[i], m, a);
  for (int i = 1; i < kChains; ++i) acc[0] = _mm512_add_ps(acc[0], acc[i]);
  return _mm512_reduce_add_ps(acc[0]);
}

__attribute__((target("avx2,fma"))) float fma_loop_avx2(long iters) {
  __m256 acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = _mm256_set1_ps(static_cast<float>(i));
  const __m256 m = _mm256_set1_ps(0.999f), a = _mm256_set1_ps(0.001f);
  for (long it = 0; it < iters; ++it)
    for (int i = 0; i < kChains; ++i) acc[i] = _mm256_fmadd_ps(acc[i], m, a);
  float out[8];
  for (int i = 1; i < kChains; ++i) acc[0] = _mm256_add_ps(acc[0], acc[i]);
  _mm256_storeu_ps(out, acc[0]);
  return out[0] + out[1] + out[2] + out[3] + out[4] + out[5] + out[6] + out[7];
}

float fma_loop_scalar(long iters) {
  float acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = static_cast<float>(i);
  for (long it = 0; it < iters; ++it)
    for (int i = 0; i < kChains; ++i) acc[i] = acc[i] * 0.999f + 0.001f;
  float s = 0;
  for (float x : acc) s += x;
  return s;
}

// Best GFLOP/s over kReps repetitions of loop(kIters), `lanes` floats per vector.
template <class Loop>
double best_gflops(Loop loop, int lanes) {
  volatile float sink = loop(kIters / 16);  // warm-up: clocks up, code in cache
  double best_s       = 1e30;
  for (int r = 0; r < kReps; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    sink    = sink + loop(kIters);
    best_s  = std::min(best_s, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return 2.0 * lanes * kChains * static_cast<double>(kIters) / best_s / 1e9;
}

}  // namespace

FmaPeak measure_fma_peak() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) return {best_gflops(fma_loop_avx512, 16), "avx512"};
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    return {best_gflops(fma_loop_avx2, 8), "avx2"};
  return {best_gflops(fma_loop_scalar, 1), "scalar"};
}

}  // namespace paraxis::measure
