// paraxis/kernels/fused.h — the GPT block's elementwise passes fused where they are adjacent, so each
// activation is read and written once per pass (NOTE [fused block], docs/layers.md).
//
//   residual_layernorm_forward(h, y, mean, rstd, x, f, w, b, N, C, eps, drop);  // h = x + drop(f); y = LN(h)
//   layernorm_backward_fused(dx, dw, db, dy, dres, h, w, mean, rstd, N, C);     // dx = dres + LN'(dy); dw, db
//   gelu_backward_bias(du, db, dy, u, N, C);                                    // du = dy gelu'(u); db += Σ du
//   residual_dropout_add(y, x, f, n, drop);                                     // y = x + drop(f)
//
// The unfused compositions (ref::add, ref::dropout, ref::layernorm_*, ref::gelu_backward and a column sum) are
// the oracle: tests/kernels/fused_test.cc runs them in float64 on odd sizes. `drop` is the dropout of the
// branch: p = 0 (or no rng) is the identity, else element i is kept when rng.uniform(i) >= p and scaled by
// 1 / (1 - p), the same mask as dropout_forward's, so the fused and unfused blocks agree bit for bit on it.
#pragma once

#include <cstdint>

#include "paraxis/core/rng.h"

namespace paraxis {

struct DropoutMask {
  float p           = 0.0f;
  const Philox* rng = nullptr;  // null: no dropout
  bool active() const { return rng != nullptr && p > 0.0f; }
};

// h (N, C) = x + drop(f); y (N, C) = (h - mean) * rstd * w + b; mean, rstd (N) are outputs. One pass.
void residual_layernorm_forward(float* h, float* y, float* mean, float* rstd, const float* x, const float* f,
                                const float* w, const float* b, int64_t n, int64_t c, float eps,
                                DropoutMask drop = {});
// dx (N, C) = dres + LayerNorm's input gradient of dy (dres may be null: no residual); dw, db (C) += the
// weight and bias gradients of the same dy, from the same single read of dy and h.
void layernorm_backward_fused(float* dx, float* dw, float* db, const float* dy, const float* dres,
                              const float* h, const float* w, const float* mean, const float* rstd, int64_t n,
                              int64_t c);
// du (N, C) = dy * gelu'(u) (exact erf GELU); db (C) += the column sums of du (may be null). One pass.
void gelu_backward_bias(float* du, float* db, const float* dy, const float* u, int64_t n, int64_t c);
// y = x + drop(f) over n elements. One pass.
void residual_dropout_add(float* y, const float* x, const float* f, int64_t n, DropoutMask drop = {});

}  // namespace paraxis
