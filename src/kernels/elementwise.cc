#include "paraxis/kernels/elementwise.h"

#include "paraxis/kernels/matmul.h"

namespace paraxis {

namespace {
// Below this many elements a parallel region costs more than it saves (`if (parallel : ...)`: see
// activation.cc).
constexpr int64_t kParallelMin = 1 << 16;

// One Philox block gives four draws: element i uses word i % 4 of block i / 4, exactly as rng.uniform(i).
void dropout_apply(float* y, const float* x, int64_t n, float p, const Philox& rng) {
  float scale     = 1.0f / (1.0f - p);
  int64_t nblocks = (n + 3) / 4;
#pragma omp parallel for if (n > kParallelMin) schedule(static)
  for (int64_t blk = 0; blk < nblocks; ++blk) {
    uint32_t w[4];
    rng.block(static_cast<uint64_t>(blk), w);
    for (int64_t j = 0; j < 4 && blk * 4 + j < n; ++j) {
      int64_t i = blk * 4 + j;
      float u   = static_cast<float>(w[j] >> 8) * (1.0f / 16777216.0f);
      y[i]      = u >= p ? x[i] * scale : 0.0f;
    }
  }
}
}  // namespace

void add(float* y, const float* a, const float* b, int64_t n) {
  if (kernel_path() == KernelPath::kRef) return ref::add(y, a, b, n);
#pragma omp parallel for simd if (parallel : n > kParallelMin) schedule(static)
  for (int64_t i = 0; i < n; ++i) y[i] = a[i] + b[i];
}

void add_inplace(float* y, const float* a, int64_t n) {
#pragma omp parallel for simd if (parallel : n > kParallelMin) schedule(static)
  for (int64_t i = 0; i < n; ++i) y[i] += a[i];
}

void dropout_forward(float* y, const float* x, int64_t n, float p, const Philox& rng) {
  if (kernel_path() == KernelPath::kRef) return ref::dropout(y, x, n, p, rng);
  dropout_apply(y, x, n, p, rng);
}

void dropout_backward(float* dx, const float* dy, int64_t n, float p, const Philox& rng) {
  if (kernel_path() == KernelPath::kRef) return ref::dropout(dx, dy, n, p, rng);
  dropout_apply(dx, dy, n, p, rng);
}

}  // namespace paraxis
