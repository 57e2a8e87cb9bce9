#include "paraxis/kernels/layernorm.h"

#include <cmath>
#include <vector>

#include "paraxis/kernels/matmul.h"

namespace paraxis {

namespace {
constexpr int64_t kParallelMinRows = 64;
}  // namespace

void layernorm_forward(float* y, float* mean, float* rstd, const float* x, const float* w, const float* b,
                       int64_t n, int64_t c, float eps) {
  if (kernel_path() == KernelPath::kRef) return ref::layernorm_forward(y, mean, rstd, x, w, b, n, c, eps);
#pragma omp parallel for if (n > kParallelMinRows) schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    const float* xr = x + i * c;
    float* yr       = y + i * c;
    float sum       = 0.0f;
#pragma omp simd reduction(+ : sum)
    for (int64_t j = 0; j < c; ++j) sum += xr[j];
    float m   = sum / static_cast<float>(c);
    float var = 0.0f;  // two passes: stable when |mean| >> std
#pragma omp simd reduction(+ : var)
    for (int64_t j = 0; j < c; ++j) var += (xr[j] - m) * (xr[j] - m);
    float r = 1.0f / std::sqrt(var / static_cast<float>(c) + eps);
#pragma omp simd
    for (int64_t j = 0; j < c; ++j) yr[j] = (xr[j] - m) * r * w[j] + b[j];
    mean[i] = m;
    rstd[i] = r;
  }
}

void layernorm_backward_input(float* dx, const float* dy, const float* x, const float* w, const float* mean,
                              const float* rstd, int64_t n, int64_t c) {
  if (kernel_path() == KernelPath::kRef) return ref::layernorm_backward_input(dx, dy, x, w, mean, rstd, n, c);
#pragma omp parallel for if (n > kParallelMinRows) schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    const float* xr  = x + i * c;
    const float* dyr = dy + i * c;
    float* dxr       = dx + i * c;
    float m = mean[i], r = rstd[i];
    float g_sum = 0.0f, gx_sum = 0.0f;
#pragma omp simd reduction(+ : g_sum, gx_sum)
    for (int64_t j = 0; j < c; ++j) {
      float g = dyr[j] * w[j];
      g_sum += g;
      gx_sum += g * (xr[j] - m) * r;
    }
    float g_mean = g_sum / static_cast<float>(c), gx_mean = gx_sum / static_cast<float>(c);
#pragma omp simd
    for (int64_t j = 0; j < c; ++j) dxr[j] = r * (dyr[j] * w[j] - g_mean - (xr[j] - m) * r * gx_mean);
  }
}

void layernorm_backward_weight(float* dw, float* db, const float* dy, const float* x, const float* mean,
                               const float* rstd, int64_t n, int64_t c) {
  if (kernel_path() == KernelPath::kRef)
    return ref::layernorm_backward_weight(dw, db, dy, x, mean, rstd, n, c);
  // Rows stream through once; each column accumulates into dw/db (C floats stay in L1).
  for (int64_t i = 0; i < n; ++i) {
    const float* xr  = x + i * c;
    const float* dyr = dy + i * c;
    float m = mean[i], r = rstd[i];
#pragma omp simd
    for (int64_t j = 0; j < c; ++j) {
      dw[j] += dyr[j] * (xr[j] - m) * r;
      db[j] += dyr[j];
    }
  }
}

}  // namespace paraxis
