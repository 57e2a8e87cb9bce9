#include "paraxis/kernels/attention.h"

#include <cmath>
#include <cstring>

#include "kernels/vec_math.h"
#include "paraxis/core/tensor.h"
#include "paraxis/kernels/matmul.h"

namespace paraxis {

namespace {
constexpr int64_t kParallelMin = 1 << 16;

// (B, T, stride) rows, head h at column offset + h*hd  <->  (B*NH, T, hd) contiguous heads.
void split_heads(float* heads, const float* src, int64_t stride, int64_t offset, int64_t b, int64_t t,
                 int64_t nh, int64_t hd) {
#pragma omp parallel for collapse(2) if (b * t * nh * hd > kParallelMin) schedule(static)
  for (int64_t bi = 0; bi < b; ++bi)
    for (int64_t h = 0; h < nh; ++h)
      for (int64_t ti = 0; ti < t; ++ti)
        std::memcpy(heads + ((bi * nh + h) * t + ti) * hd, src + (bi * t + ti) * stride + offset + h * hd,
                    sizeof(float) * hd);
}
void merge_heads(float* dst, const float* heads, int64_t stride, int64_t offset, int64_t b, int64_t t,
                 int64_t nh, int64_t hd) {
#pragma omp parallel for collapse(2) if (b * t * nh * hd > kParallelMin) schedule(static)
  for (int64_t bi = 0; bi < b; ++bi)
    for (int64_t h = 0; h < nh; ++h)
      for (int64_t ti = 0; ti < t; ++ti)
        std::memcpy(dst + (bi * t + ti) * stride + offset + h * hd, heads + ((bi * nh + h) * t + ti) * hd,
                    sizeof(float) * hd);
}
}  // namespace

void attention_forward(float* out, float* q, float* k, float* v, float* probs, const float* qkv, int64_t b,
                       int64_t t, int64_t c, int64_t nh) {
  if (kernel_path() == KernelPath::kRef) return ref::attention_forward(out, q, k, v, probs, qkv, b, t, c, nh);
  int64_t hd = c / nh, bh = b * nh;
  float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  split_heads(q, qkv, 3 * c, 0, b, t, nh, hd);
  split_heads(k, qkv, 3 * c, c, b, t, nh, hd);
  split_heads(v, qkv, 3 * c, 2 * c, b, t, nh, hd);
  matmul(probs, q, k, t, t, hd, false, true, 0.0f, bh);  // scores (BH, T, T) = q k^T
#pragma omp parallel for collapse(2) if (bh * t * t > kParallelMin) schedule(static)
  for (int64_t z = 0; z < bh; ++z)
    for (int64_t i = 0; i < t; ++i) {
      float* row = probs + (z * t + i) * t;
      float mx   = row[0];
      for (int64_t j = 1; j <= i; ++j) mx = row[j] > mx ? row[j] : mx;
      float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
      for (int64_t j = 0; j <= i; ++j) {
        float e = vec::exp((row[j] - mx) * scale);
        row[j]  = e;
        sum += e;
      }
      float inv = 1.0f / sum;
#pragma omp simd
      for (int64_t j = 0; j <= i; ++j) row[j] *= inv;
      for (int64_t j = i + 1; j < t; ++j) row[j] = 0.0f;
    }
  Tensor out_heads = Tensor::empty({bh, t, hd});  // (B*NH, T, hd)
  matmul(out_heads.data(), probs, v, t, hd, t, false, false, 0.0f, bh);
  merge_heads(out, out_heads.data(), c, 0, b, t, nh, hd);
}

void attention_backward(float* dqkv, const float* dout, const float* q, const float* k, const float* v,
                        const float* probs, int64_t b, int64_t t, int64_t c, int64_t nh) {
  if (kernel_path() == KernelPath::kRef)
    return ref::attention_backward(dqkv, dout, q, k, v, probs, b, t, c, nh);
  int64_t hd = c / nh, bh = b * nh, n = bh * t * hd;
  float scale   = 1.0f / std::sqrt(static_cast<float>(hd));
  Tensor work   = Tensor::empty({4, bh, t, hd});  // dout, dq, dk, dv in head layout
  Tensor dscore = Tensor::empty({bh, t, t});      // dP, then dS in place
  float* dout_h = work.data();
  float *dq = dout_h + n, *dk = dout_h + 2 * n, *dv = dout_h + 3 * n;
  float* ds = dscore.data();
  split_heads(dout_h, dout, c, 0, b, t, nh, hd);
  matmul(ds, dout_h, v, t, t, hd, false, true, 0.0f, bh);      // dP = dO v^T
  matmul(dv, probs, dout_h, t, hd, t, true, false, 0.0f, bh);  // dV = P^T dO
#pragma omp parallel for collapse(2) if (bh * t * t > kParallelMin) schedule(static)
  for (int64_t z = 0; z < bh; ++z)
    for (int64_t i = 0; i < t; ++i) {
      const float* p = probs + (z * t + i) * t;
      float* row     = ds + (z * t + i) * t;
      float dot      = 0.0f;
#pragma omp simd reduction(+ : dot)
      for (int64_t j = 0; j <= i; ++j) dot += p[j] * row[j];
#pragma omp simd
      for (int64_t j = 0; j <= i; ++j) row[j] = p[j] * (row[j] - dot) * scale;
      for (int64_t j = i + 1; j < t; ++j) row[j] = 0.0f;
    }
  matmul(dq, ds, k, t, hd, t, false, false, 0.0f, bh);  // dQ = dS k
  matmul(dk, ds, q, t, hd, t, true, false, 0.0f, bh);   // dK = dS^T q
  merge_heads(dqkv, dq, 3 * c, 0, b, t, nh, hd);
  merge_heads(dqkv, dk, 3 * c, c, b, t, nh, hd);
  merge_heads(dqkv, dv, 3 * c, 2 * c, b, t, nh, hd);
}

}  // namespace paraxis
