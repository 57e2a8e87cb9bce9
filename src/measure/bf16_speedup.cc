// The bf16 ÷ fp32 matmul speedup of this machine (measure.h), as `--precision bf16` runs its products.
#include <algorithm>
#include <chrono>
#include <vector>

#include "paraxis/kernels/matmul.h"
#include "paraxis/kernels/precision.h"
#include "paraxis/measure/measure.h"

namespace paraxis::measure {

namespace {
// The best of `calls` timed calls of an n³ matmul at precision p, after one warm-up (primitive creation).
double best_matmul_seconds(int64_t n, Precision p, int calls) {
  const MatmulPrecisionScope scope(p);
  std::vector<float> a(n * n, 1.0f), b(n * n, 0.5f), c(n * n);
  double best = 1e30;
  for (int i = 0; i <= calls; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    matmul(c.data(), a.data(), b.data(), n, n, n);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (i > 0) best = std::min(best, s);
  }
  return best;
}
}  // namespace

double bf16_matmul_speedup(int64_t n, int rounds) {
  double fp32 = 1e30, bf16 = 1e30;
  for (int r = 0; r < rounds; ++r) {  // interleaved: a slow phase of a shared machine hits both
    fp32 = std::min(fp32, best_matmul_seconds(n, Precision::kFp32, 3));
    bf16 = std::min(bf16, best_matmul_seconds(n, Precision::kBf16, 3));
  }
  return fp32 / bf16;
}

}  // namespace paraxis::measure
