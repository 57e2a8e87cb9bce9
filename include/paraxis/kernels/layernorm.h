// paraxis/kernels/layernorm.h — LayerNorm over the last dimension (torch.nn.LayerNorm, biased variance).
//
//   layernorm_forward(y, mean, rstd, x, w, b, N, C, 1e-5f);          // keeps mean, rstd (N) for backward
//   layernorm_backward_input(dx, dy, x, w, mean, rstd, N, C);
//   layernorm_backward_weight(dw, db, dy, x, mean, rstd, N, C);      // accumulates into dw, db (C)
#pragma once

#include <cstdint>

namespace paraxis {

// y (N, C) = (x - mean) * rstd * w (C) + b (C);  mean, rstd (N) are outputs.
void layernorm_forward(float* y, float* mean, float* rstd, const float* x, const float* w, const float* b,
                       int64_t n, int64_t c, float eps);
// dx (N, C) from dy (N, C)
void layernorm_backward_input(float* dx, const float* dy, const float* x, const float* w, const float* mean,
                              const float* rstd, int64_t n, int64_t c);
// dw (C) += sum_n dy * xhat;  db (C) += sum_n dy
void layernorm_backward_weight(float* dw, float* db, const float* dy, const float* x, const float* mean,
                               const float* rstd, int64_t n, int64_t c);

namespace ref {
template <class T>
void layernorm_forward(T* y, T* mean, T* rstd, const T* x, const T* w, const T* b, int64_t n, int64_t c,
                       T eps);
template <class T>
void layernorm_backward_input(T* dx, const T* dy, const T* x, const T* w, const T* mean, const T* rstd,
                              int64_t n, int64_t c);
template <class T>
void layernorm_backward_weight(T* dw, T* db, const T* dy, const T* x, const T* mean, const T* rstd, int64_t n,
                               int64_t c);
}  // namespace ref

}  // namespace paraxis
