// NOTE [fused block] — see docs/layers.md. Every kernel here walks rows of C floats (one row stays in L1
// between its two sweeps), reading each input once and writing each output once; the column sums of the
// weight and bias gradients ride along in per-thread partials added at the end (a fixed thread count gives a
// fixed summation order).
#include "paraxis/kernels/fused.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/vec_math.h"
#include "paraxis/kernels/activation.h"
#include "paraxis/kernels/elementwise.h"
#include "paraxis/kernels/layernorm.h"
#include "paraxis/kernels/matmul.h"

namespace paraxis {

namespace {
constexpr int64_t kParallelMinRows = 64;

// out[j] = f[j] * keep_j / (1 - p) for the elements [i0, i0 + len) of the dropout mask: element i uses word
// i % 4 of Philox block i / 4, exactly as dropout_forward.
void dropout_span(float* out, const float* f, int64_t i0, int64_t len, const DropoutMask& d) {
  const float scale = 1.0f / (1.0f - d.p);
  for (int64_t i = i0, end = i0 + len; i < end;) {
    uint32_t w[4];
    d.rng->block(static_cast<uint64_t>(i / 4), w);
    for (int64_t k = i % 4; k < 4 && i < end; ++k, ++i) {
      const float u = static_cast<float>(w[k] >> 8) * (1.0f / 16777216.0f);
      out[i - i0]   = u >= d.p ? f[i - i0] * scale : 0.0f;
    }
  }
}

// Adds per-thread partial column sums into dst (C) in thread order.
struct Partials {
  std::vector<std::vector<float>> per_thread;
  Partials(int threads, int64_t width) : per_thread(threads, std::vector<float>(width, 0.0f)) {}
  void add_into(float* dst, int64_t offset, int64_t width) const {
    if (!dst) return;
    for (const auto& p : per_thread)
      for (int64_t j = 0; j < width; ++j) dst[j] += p[offset + j];
  }
};

int threads_for(int64_t rows) {
  return rows > kParallelMinRows ? std::max(1, omp_get_max_threads()) : 1;
}

// PARAXIS_KERNELS=ref: the unfused compositions of the reference kernels, one pass each.
namespace unfused {
void branch(float* out, const float* f, int64_t n, const DropoutMask& d) {
  if (d.active()) return ref::dropout(out, f, n, d.p, *d.rng);
  std::copy(f, f + n, out);
}
void residual_layernorm(float* h, float* y, float* mean, float* rstd, const float* x, const float* f,
                        const float* w, const float* b, int64_t n, int64_t c, float eps,
                        const DropoutMask& d) {
  branch(h, f, n * c, d);
  ref::add(h, x, h, n * c);
  ref::layernorm_forward(y, mean, rstd, h, w, b, n, c, eps);
}
void layernorm_backward(float* dx, float* dw, float* db, const float* dy, const float* dres, const float* h,
                        const float* w, const float* mean, const float* rstd, int64_t n, int64_t c) {
  ref::layernorm_backward_input(dx, dy, h, w, mean, rstd, n, c);
  if (dres) ref::add(dx, dx, dres, n * c);
  ref::layernorm_backward_weight(dw, db, dy, h, mean, rstd, n, c);
}
void gelu_bias(float* du, float* db, const float* dy, const float* u, int64_t n, int64_t c) {
  ref::gelu_backward(du, dy, u, n * c);
  if (db)
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < c; ++j) db[j] += du[i * c + j];
}
}  // namespace unfused
}  // namespace

void residual_layernorm_forward(float* h, float* y, float* mean, float* rstd, const float* x, const float* f,
                                const float* w, const float* b, int64_t n, int64_t c, float eps,
                                DropoutMask drop) {
  if (kernel_path() == KernelPath::kRef)
    return unfused::residual_layernorm(h, y, mean, rstd, x, f, w, b, n, c, eps, drop);
#pragma omp parallel for if (n > kParallelMinRows) schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    const float *xr = x + i * c, *fr = f + i * c;
    float *hr = h + i * c, *yr = y + i * c;
    if (drop.active()) dropout_span(hr, fr, i * c, c, drop);
    const float* src = drop.active() ? hr : fr;
    float sum        = 0.0f;
#pragma omp simd reduction(+ : sum)
    for (int64_t j = 0; j < c; ++j) {
      hr[j] = xr[j] + src[j];
      sum += hr[j];
    }
    const float m = sum / static_cast<float>(c);
    float var     = 0.0f;  // two sweeps over the row (in L1): stable when |mean| >> std
#pragma omp simd reduction(+ : var)
    for (int64_t j = 0; j < c; ++j) var += (hr[j] - m) * (hr[j] - m);
    const float r = 1.0f / std::sqrt(var / static_cast<float>(c) + eps);
#pragma omp simd
    for (int64_t j = 0; j < c; ++j) yr[j] = (hr[j] - m) * r * w[j] + b[j];
    mean[i] = m;
    rstd[i] = r;
  }
}

void layernorm_backward_fused(float* dx, float* dw, float* db, const float* dy, const float* dres,
                              const float* h, const float* w, const float* mean, const float* rstd, int64_t n,
                              int64_t c) {
  if (kernel_path() == KernelPath::kRef)
    return unfused::layernorm_backward(dx, dw, db, dy, dres, h, w, mean, rstd, n, c);
  const int threads = threads_for(n);
  Partials part(threads, 2 * c);  // dw | db
#pragma omp parallel num_threads(threads)
  {
    float* pw = part.per_thread[omp_get_thread_num()].data();
    float* pb = pw + c;
#pragma omp for schedule(static)
    for (int64_t i = 0; i < n; ++i) {
      const float *hr = h + i * c, *dyr = dy + i * c;
      float* dxr    = dx + i * c;
      const float m = mean[i], r = rstd[i];
      float g_sum = 0.0f, gx_sum = 0.0f;
#pragma omp simd reduction(+ : g_sum, gx_sum)
      for (int64_t j = 0; j < c; ++j) {
        const float g = dyr[j] * w[j];
        g_sum += g;
        gx_sum += g * (hr[j] - m) * r;
      }
      const float g_mean = g_sum / static_cast<float>(c), gx_mean = gx_sum / static_cast<float>(c);
      const float* rr = dres ? dres + i * c : nullptr;
#pragma omp simd
      for (int64_t j = 0; j < c; ++j) {
        const float xhat = (hr[j] - m) * r;
        dxr[j]           = r * (dyr[j] * w[j] - g_mean - xhat * gx_mean) + (rr ? rr[j] : 0.0f);
        pw[j] += dyr[j] * xhat;
        pb[j] += dyr[j];
      }
    }
  }
  part.add_into(dw, 0, c);
  part.add_into(db, c, c);
}

void gelu_backward_bias(float* du, float* db, const float* dy, const float* u, int64_t n, int64_t c) {
  if (kernel_path() == KernelPath::kRef) return unfused::gelu_bias(du, db, dy, u, n, c);
  const int threads = threads_for(n);
  Partials part(threads, c);
#pragma omp parallel num_threads(threads)
  {
    float* pb = part.per_thread[omp_get_thread_num()].data();
#pragma omp for schedule(static)
    for (int64_t i = 0; i < n; ++i) {
      const float *ur = u + i * c, *dyr = dy + i * c;
      float* dur = du + i * c;
#pragma omp simd
      for (int64_t j = 0; j < c; ++j) {
        const float z   = ur[j] * 0.70710678118654752f;  // u / sqrt 2
        const float e   = vec::exp(-z * z);              // serves both erf and the normal density
        const float cdf = 0.5f * (1.0f + vec::erf_with_exp(z, e));
        dur[j]          = dyr[j] * (cdf + ur[j] * 0.39894228040143268f * e);
        pb[j] += dur[j];
      }
    }
  }
  part.add_into(db, 0, c);
}

void residual_dropout_add(float* y, const float* x, const float* f, int64_t n, DropoutMask drop) {
  if (kernel_path() == KernelPath::kRef) {
    unfused::branch(y, f, n, drop);
    return ref::add(y, x, y, n);
  }
  constexpr int64_t kSpan = 1024;  // dropout in L1-sized spans, then the add over the same span
#pragma omp parallel for if (n > kParallelMinRows * kSpan) schedule(static)
  for (int64_t s = 0; s < n; s += kSpan) {
    const int64_t len = std::min(kSpan, n - s);
    float* ys         = y + s;
    const float* src  = f + s;
    if (drop.active()) dropout_span(ys, src, s, len, drop), src = ys;
#pragma omp simd
    for (int64_t j = 0; j < len; ++j) ys[j] = x[s + j] + src[j];
  }
}

}  // namespace paraxis
