// paraxis/kernels/linear.h — forward and backward of y = x W^T + b, side by side.
#pragma once

#include <cstdint>

namespace paraxis {

// Under --precision bf16 the products read w rounded to bf16 (kernels/precision.h). Given `w_bf16` (room for
// out·in values), the forward rounds w into it and the input-gradient pass reads it back instead of rounding w
// again, so a step rounds each weight once per forward, not once per pass (as PyTorch's autocast caches its
// weight casts). The caller keeps w unchanged between the two; in fp32 (or PARAXIS_KERNELS=ref) w_bf16 is unused.
//
// y (N, out) = x (N, in) · w (out, in)^T + b (out); b may be null.
void linear_forward(float* y, const float* x, const float* w, const float* b, int64_t n, int64_t in,
                    int64_t out, uint16_t* w_bf16 = nullptr);
// dx (N, in) = dy (N, out) · w (out, in); w_bf16: w as the forward rounded it, or null.
void linear_backward_input(float* dx, const float* dy, const float* w, int64_t n, int64_t in, int64_t out,
                           const uint16_t* w_bf16 = nullptr);
// Whether linear_forward fills w_bf16 in this run (bf16 precision on the fast kernels).
bool linear_rounds_weights();
// dw (out, in) += dy^T · x;  db (out) += sum_n dy; db may be null.
void linear_backward_weight(float* dw, float* db, const float* dy, const float* x, int64_t n, int64_t in,
                            int64_t out);

}  // namespace paraxis
