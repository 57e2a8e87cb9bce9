// NOTE [fused attention] — see docs/layers.md. Per (batch, head) z, one thread: the head's K (transposed,
// pre-scaled by 1/sqrt(hd)) and V (forward; backward: Q, K, Vᵀ, dO) are gathered once into per-thread scratch
// (linear in T); then blocks of kBlock query rows run over blocks of kBlock key rows. The operands a block
// streams over k rows stay gathered: at row stride 3C (or C) 64 rows of a head fall into 16 L1 sets and
// evict each other (in place, the backward measured 5-15% slower, interleaved on a loaded host). Read in
// place: the forward's Q (the broadcast operand, 4 rows at a time); written in place: out, and dQ, dK, dV,
// accumulated straight into dqkv, so nothing is scattered back. The first product into each of them and each
// score block sets it (nothing is cleared first: a clear was a second write-allocating sweep over dqkv).
// Forward: the online softmax (running max m, running sum l, the output accumulator rescaled by
// e^(m_old - m_new)); lse = m + log l. Backward, key block outer: P = e^(S - lse) is recomputed per block,
// dV_j += Pᵀ dO_i, dP = dO_i V_jᵀ, dS = P (dP - D_i) / sqrt(hd) with D = rowsum(dO ∘ O), dQ_i += dS K_j,
// dK_j += dSᵀ Q_i.
#include "paraxis/kernels/attention.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "kernels/small_gemm.h"
#include "kernels/vec16.h"
#include "kernels/vec_math.h"
#include "paraxis/core/tensor.h"
#include "paraxis/kernels/matmul.h"

namespace paraxis {

namespace {
constexpr int64_t kBlock       = 64;  // query and key rows per block
constexpr int64_t kParallelMin = 1 << 16;

using small_gemm::gemm_acc;
using small_gemm::gemm_set;

// C = A·B when `set` (the first product into C: nothing to clear first), else C += A·B.
void gemm(bool set, float* c, int64_t ldc, const float* a, int64_t a_rs, int64_t a_cs, const float* b,
          int64_t ldb, int64_t m, int64_t n, int64_t k) {
  if (set) return gemm_set(c, ldc, a, a_rs, a_cs, b, ldb, m, n, k);
  gemm_acc(c, ldc, a, a_rs, a_cs, b, ldb, m, n, k);
}

void grow(std::vector<float>& v, int64_t n) {
  if (static_cast<int64_t>(v.size()) < n) v.resize(n);
}

struct Head {
  int64_t t, c, hd;  // sequence, width (the qkv row is 3c), head width
  float scale;       // 1 / sqrt(hd)
  bool causal;
  int64_t key_end(int64_t i0, int64_t rows) const { return causal ? i0 + rows : t; }
  // Keys j0 + [0, n) visible to query row i: a prefix of the block, possibly empty.
  int64_t visible(int64_t i, int64_t j0, int64_t n) const {
    return causal ? std::clamp<int64_t>(i - j0 + 1, 0, n) : n;
  }
};

// rows (T, hd) contiguous <- T rows of `src` with stride `stride` (an inline loop: hd is a few vectors, too
// short for a memcpy call to pay).
void gather_rows(float* dst, const float* src, int64_t stride, int64_t t, int64_t hd) {
  for (int64_t i = 0; i < t; ++i) {
    const float* s = src + i * stride;
    float* d       = dst + i * hd;
#pragma omp simd
    for (int64_t k = 0; k < hd; ++k) d[k] = s[k];
  }
}
// transposed (hd, T), times `mul`: 16 rows at a time, so each store is one contiguous vector of a column and
// the 16 source rows stay in L1.
void gather_cols(float* dst, const float* src, int64_t stride, int64_t t, int64_t hd, float mul) {
  constexpr int64_t kRows = 16;
  int64_t i0              = 0;
  for (; i0 + kRows <= t; i0 += kRows)
    for (int64_t d = 0; d < hd; ++d) {
      float* out = dst + d * t + i0;
#pragma omp simd
      for (int64_t k = 0; k < kRows; ++k) out[k] = src[(i0 + k) * stride + d] * mul;
    }
  for (int64_t i = i0; i < t; ++i)
    for (int64_t d = 0; d < hd; ++d) dst[d * t + i] = src[i * stride + d] * mul;
}

// Online softmax over one (rows × n) block of scores s (row stride kBlock), in place into e^(s - m_new), the
// masked keys 0; m, l are the rows' running max and sum, acc (rows × hd) the running output, rescaled when m
// grows. Whole vectors over each row (its kBlock floats hold the n entries; lanes at or past the visible
// count are selected away).
void online_softmax(float* s, float* m, float* l, float* acc, const Head& h, int64_t i0, int64_t j0,
                    int64_t rows, int64_t n) {
  using namespace vec16;
  const int64_t nv = (n + 15) / 16;
  for (int64_t r = 0; r < rows; ++r) {
    float* row          = s + r * kBlock;
    const int64_t vis_i = h.visible(i0 + r, j0, n);
    if (vis_i == 0) {
      std::fill(row, row + n, 0.0f);
      continue;
    }
    const float vis = static_cast<float>(vis_i);
    v16 vmx         = splat(-INFINITY);
    for (int64_t v = 0; v < nv; ++v) {
      const v16 x = load(row + 16 * v);
      vmx         = lanes_from(16.0f * v) < vis && x > vmx ? x : vmx;
    }
    const float mx = std::max(m[r], hmax(vmx));
    v16 vsum{};
    for (int64_t v = 0; v < nv; ++v) {
      const v16 e = lanes_from(16.0f * v) < vis ? vec16::exp(load(row + 16 * v) - mx) : v16{};
      store(row + 16 * v, e);
      vsum += e;
    }
    const float alpha = m[r] == -INFINITY ? 0.0f : vec::exp(m[r] - mx);  // 0 on the first block
    float* ar         = acc + r * h.hd;
#pragma omp simd
    for (int64_t d = 0; d < h.hd; ++d) ar[d] *= alpha;
    l[r] = l[r] * alpha + hsum(vsum);
    m[r] = mx;
  }
}

// Scratch of one thread, kept across calls (thread_local): sized up when a call needs more, never zeroed —
// every buffer is written before it is read. A per-call allocation cost page faults and zeroing each step.
struct FwdScratch {
  std::vector<float> kt, v, s, acc, m, l;
  static FwdScratch& of(const Head& h) {
    thread_local FwdScratch w;
    grow(w.kt, h.hd * h.t), grow(w.v, h.t * h.hd), grow(w.s, kBlock * kBlock);
    grow(w.acc, kBlock * h.hd), grow(w.m, kBlock), grow(w.l, kBlock);
    return w;
  }
};

// One block of query rows [i0, i0 + rows): out rows (stride c) and their lse. Q is read in place (row stride
// 3c); S = Q Kᵀ overwrites its rows × n entries, the only ones read after.
void forward_rows(float* out, float* lse, const float* qkv, const Head& h, FwdScratch& w, int64_t i0,
                  int64_t rows) {
  const int64_t ld = 3 * h.c;
  std::fill(w.m.begin(), w.m.end(), -INFINITY);
  std::fill(w.l.begin(), w.l.end(), 0.0f);
  for (int64_t j0 = 0, end = h.key_end(i0, rows); j0 < end; j0 += kBlock) {
    const int64_t n = std::min(kBlock, end - j0);
    gemm_set(w.s.data(), kBlock, qkv + i0 * ld, ld, 1, w.kt.data() + j0, h.t, rows, n, h.hd);  // S = Q Kᵀ
    online_softmax(w.s.data(), w.m.data(), w.l.data(), w.acc.data(), h, i0, j0, rows, n);
    // acc = P V on the first key block (every row sees key 0; its rescale by 0 above is overwritten), += after
    gemm(j0 == 0, w.acc.data(), h.hd, w.s.data(), kBlock, 1, w.v.data() + j0 * h.hd, h.hd, rows, h.hd, n);
  }
  for (int64_t r = 0; r < rows; ++r) {
    const float inv = 1.0f / w.l[r];
    for (int64_t d = 0; d < h.hd; ++d) out[(i0 + r) * h.c + d] = w.acc[r * h.hd + d] * inv;
    lse[i0 + r] = w.m[r] + std::log(w.l[r]);
  }
}

// One head: qkv and out point at the head's first column (q block; out's own), lse at its T entries.
void forward_head(float* out, float* lse, const float* qkv, const Head& h, FwdScratch& w) {
  gather_cols(w.kt.data(), qkv + h.c, 3 * h.c, h.t, h.hd, h.scale);
  gather_rows(w.v.data(), qkv + 2 * h.c, 3 * h.c, h.t, h.hd);
  for (int64_t i0 = 0; i0 < h.t; i0 += kBlock)
    forward_rows(out, lse, qkv, h, w, i0, std::min(kBlock, h.t - i0));
}

struct BwdScratch {
  std::vector<float> q, k, kt, vt, dout, dsum, p, dp;
  static BwdScratch& of(const Head& h) {
    thread_local BwdScratch w;
    for (auto* v : {&w.q, &w.k, &w.kt, &w.vt, &w.dout}) grow(*v, h.t * h.hd);
    grow(w.dsum, h.t), grow(w.p, kBlock * kBlock), grow(w.dp, kBlock * kBlock);
    return w;
  }
};

// The head's views: q (k, v at +c, +2c) and its gradient in the qkv rows (stride 3c), dO in the out rows
// (stride c).
struct HeadIo {
  float* dqkv;
  const float *dout, *qkv, *lse;
};

// P = e^(S - lse) of query block i0 (rows) × key block j0 (n), masked entries 0; then dS in place of P after
// dV; dp holds dO Vᵀ. Both are set (not accumulated) over their rows × n entries, the only ones read.
// first_i: i0 is the first query block to meet key block j0 (dK_j, dV_j are set, not accumulated); first_j:
// j0 == 0, the first key block of query block i0 (dQ_i set).
void backward_block(const HeadIo& io, const Head& h, BwdScratch& w, int64_t i0, int64_t rows, int64_t j0,
                    int64_t n, bool first_i) {
  float *p = w.p.data(), *dp = w.dp.data();
  const int64_t ld = 3 * h.c;
  const float *q = w.q.data() + i0 * h.hd, *dout = w.dout.data() + i0 * h.hd, *lse = io.lse;
  gemm_set(p, kBlock, q, h.hd, 1, w.kt.data() + j0, h.t, rows, n, h.hd);
  gemm_set(dp, kBlock, dout, h.hd, 1, w.vt.data() + j0, h.t, rows, n, h.hd);
  const int64_t nv = (n + 15) / 16;  // whole vectors over each row, the lanes past the visible keys 0
  for (int64_t r = 0; r < rows; ++r) {
    using namespace vec16;
    const float vis = static_cast<float>(h.visible(i0 + r, j0, n));
    const float m = lse[i0 + r], dsum = w.dsum[i0 + r];
    float *pr = p + r * kBlock, *dpr = dp + r * kBlock;
    for (int64_t v = 0; v < nv; ++v) {  // P, then the dp row becomes dS (P stays for dV)
      const auto keep = lanes_from(16.0f * v) < vis;
      const v16 pv    = keep ? vec16::exp(load(pr + 16 * v) - m) : v16{};
      store(pr + 16 * v, pv);
      store(dpr + 16 * v, keep ? pv * (load(dpr + 16 * v) - dsum) * h.scale : v16{});
    }
  }
  float* dqkv        = io.dqkv + j0 * ld;
  const bool first_j = j0 == 0;
  gemm(first_i, dqkv + 2 * h.c, ld, p, 1, kBlock, dout, h.hd, n, h.hd, rows);  // dV += Pᵀ dO
  gemm(first_j, io.dqkv + i0 * ld, ld, dp, kBlock, 1, w.k.data() + j0 * h.hd, h.hd, rows, h.hd,
       n);                                                               // dQ += dS K
  gemm(first_i, dqkv + h.c, ld, dp, 1, kBlock, q, h.hd, n, h.hd, rows);  // dK += dSᵀ Q
}

// Q, K, dO rows and Kᵀ (scaled), Vᵀ into scratch, D = rowsum(dO ∘ O) (in vector lanes: a serial sum waits on
// each add).
void backward_prepare(const HeadIo& io, const float* out, const Head& h, BwdScratch& w) {
  gather_rows(w.q.data(), io.qkv, 3 * h.c, h.t, h.hd);
  gather_rows(w.k.data(), io.qkv + h.c, 3 * h.c, h.t, h.hd);
  gather_rows(w.dout.data(), io.dout, h.c, h.t, h.hd);
  gather_cols(w.kt.data(), io.qkv + h.c, 3 * h.c, h.t, h.hd, h.scale);
  gather_cols(w.vt.data(), io.qkv + 2 * h.c, 3 * h.c, h.t, h.hd, 1.0f);
  for (int64_t i = 0; i < h.t; ++i) {
    float s          = 0.0f;
    const float *dor = w.dout.data() + i * h.hd, *orow = out + i * h.c;
#pragma omp simd reduction(+ : s)
    for (int64_t d = 0; d < h.hd; ++d) s += dor[d] * orow[d];
    w.dsum[i] = s;
  }
}

// One head: dqkv, qkv at the head's q column; dout, out at its own column.
void backward_head(const HeadIo& io, const float* out, const Head& h, BwdScratch& w) {
  backward_prepare(io, out, h, w);
  for (int64_t j0 = 0; j0 < h.t; j0 += kBlock)
    for (int64_t i0 = h.causal ? j0 : 0; i0 < h.t; i0 += kBlock)  // causal: blocks above the diagonal skipped
      backward_block(io, h, w, i0, std::min(kBlock, h.t - i0), j0, std::min(kBlock, h.t - j0),
                     i0 == (h.causal ? j0 : 0));
}

Head head_of(int64_t t, int64_t c, int64_t nh, bool causal) {
  const int64_t hd = c / nh;
  return {t, c, hd, 1.0f / std::sqrt(static_cast<float>(hd)), causal};
}

// The reference path (PARAXIS_KERNELS=ref): the naive kernels on scratch heads and probabilities.
void forward_ref(float* out, float* lse, const float* qkv, int64_t b, int64_t t, int64_t c, int64_t nh,
                 bool causal, Tensor& heads, Tensor& probs) {
  heads    = Tensor::empty({3, b * t * c});
  probs    = Tensor::empty({b * nh, t, t});
  float* q = heads.data();
  ref::attention_forward(out, q, q + b * t * c, q + 2 * b * t * c, probs.data(), qkv, b, t, c, nh, causal,
                         lse);
}
}  // namespace

void attention_forward(float* out, float* lse, const float* qkv, int64_t b, int64_t t, int64_t c, int64_t nh,
                       bool causal) {
  if (kernel_path() == KernelPath::kRef) {
    Tensor heads, probs;
    return forward_ref(out, lse, qkv, b, t, c, nh, causal, heads, probs);
  }
  const Head h = head_of(t, c, nh, causal);
#pragma omp parallel if (b * nh * t * c > kParallelMin)
  {
    FwdScratch& w = FwdScratch::of(h);
#pragma omp for collapse(2) schedule(dynamic)
    for (int64_t bi = 0; bi < b; ++bi)
      for (int64_t hi = 0; hi < nh; ++hi)
        forward_head(out + bi * t * c + hi * h.hd, lse + (bi * nh + hi) * t, qkv + bi * t * 3 * c + hi * h.hd,
                     h, w);
  }
}

void attention_backward(float* dqkv, const float* dout, const float* qkv, const float* out, const float* lse,
                        int64_t b, int64_t t, int64_t c, int64_t nh, bool causal) {
  if (kernel_path() == KernelPath::kRef) {
    Tensor heads, probs, scratch_out = Tensor::empty({b, t, c});
    forward_ref(scratch_out.data(), nullptr, qkv, b, t, c, nh, causal, heads, probs);
    const float* q = heads.data();
    return ref::attention_backward(dqkv, dout, q, q + b * t * c, q + 2 * b * t * c, probs.data(), b, t, c, nh,
                                   causal);
  }
  const Head h = head_of(t, c, nh, causal);
#pragma omp parallel if (b * nh * t * c > kParallelMin)
  {
    BwdScratch& w = BwdScratch::of(h);
#pragma omp for collapse(2) schedule(dynamic)
    for (int64_t bi = 0; bi < b; ++bi)
      for (int64_t hi = 0; hi < nh; ++hi) {
        const int64_t row = bi * t * c + hi * h.hd, row3 = bi * t * 3 * c + hi * h.hd;
        backward_head({dqkv + row3, dout + row, qkv + row3, lse + (bi * nh + hi) * t}, out + row, h, w);
      }
  }
}

double attention_block_entries(int64_t t, bool causal) {
  double entries = 0;
  for (int64_t i0 = 0; i0 < t; i0 += kBlock) {
    const int64_t rows = std::min(kBlock, t - i0), keys = causal ? i0 + rows : t;
    entries += static_cast<double>(rows) * static_cast<double>(keys);
  }
  return entries;
}

}  // namespace paraxis
