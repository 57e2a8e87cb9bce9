#include "paraxis/kernels/activation.h"

#include "kernels/vec_math.h"
#include "paraxis/kernels/matmul.h"

namespace paraxis {

namespace {
// Below this many elements a parallel region costs more than it saves. The loops' `if` names `parallel`:
// an unnamed one applies to `simd` too (OpenMP 5.0), and GCC then runs the small loops scalar — a ReLU
// backward of 65,536 elements took 357 us with its data-dependent branch instead of ~10 us.
constexpr int64_t kParallelMin = 1 << 16;
}  // namespace

void relu_forward(float* y, const float* x, int64_t n) {
  if (kernel_path() == KernelPath::kRef) return ref::relu_forward(y, x, n);
#pragma omp parallel for simd if (parallel : n > kParallelMin) schedule(static)
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

void relu_backward(float* dx, const float* dy, const float* y, int64_t n) {
  if (kernel_path() == KernelPath::kRef) return ref::relu_backward(dx, dy, y, n);
#pragma omp parallel for simd if (parallel : n > kParallelMin) schedule(static)
  for (int64_t i = 0; i < n; ++i) dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
}

void gelu_forward(float* y, const float* x, int64_t n) {
  if (kernel_path() == KernelPath::kRef) return ref::gelu_forward(y, x, n);
#pragma omp parallel for simd if (parallel : n > kParallelMin) schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    float z = x[i] * 0.70710678118654752f;  // x / sqrt 2
    y[i]    = 0.5f * x[i] * (1.0f + vec::erf_with_exp(z, vec::exp(-z * z)));
  }
}

void gelu_backward(float* dx, const float* dy, const float* x, int64_t n) {
  if (kernel_path() == KernelPath::kRef) return ref::gelu_backward(dx, dy, x, n);
#pragma omp parallel for simd if (parallel : n > kParallelMin) schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    float z   = x[i] * 0.70710678118654752f;
    float e   = vec::exp(-z * z);  // exp(-x^2 / 2): serves both erf and the normal density
    float cdf = 0.5f * (1.0f + vec::erf_with_exp(z, e));
    dx[i]     = dy[i] * (cdf + x[i] * 0.39894228040143268f * e);
  }
}

}  // namespace paraxis
