// paraxis/kernels/linear.h — forward and backward of y = x W^T + b, side by side.
#pragma once

#include <cstdint>

namespace paraxis {

// y (N, out) = x (N, in) · w (out, in)^T + b (out); b may be null.
void linear_forward(float* y, const float* x, const float* w, const float* b, int64_t n, int64_t in,
                    int64_t out);
// dx (N, in) = dy (N, out) · w (out, in)
void linear_backward_input(float* dx, const float* dy, const float* w, int64_t n, int64_t in, int64_t out);
// dw (out, in) += dy^T · x;  db (out) += sum_n dy; db may be null.
void linear_backward_weight(float* dw, float* db, const float* dy, const float* x, int64_t n, int64_t in,
                            int64_t out);

}  // namespace paraxis
