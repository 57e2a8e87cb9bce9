// paraxis/kernels/elementwise.h — residual add and dropout.
//
//   add(y, a, b, n);                          // y = a + b (residual forward; its backward is dx = dy + df)
//   add_inplace(y, a, n);                     // y += a
//   dropout_forward(y, x, n, p, rng);         // y = x * keep / (1 - p), keep_i = rng.uniform(i) >= p
//   dropout_backward(dx, dy, n, p, rng);      // the same mask, regenerated from the same rng: nothing stored
//
// The mask is a pure function of (rng seed, rng stream, element index), so a rerun, another device or a
// pipeline stage replaying a micro-batch reproduces it exactly.
#pragma once

#include <cstdint>

#include "paraxis/core/rng.h"

namespace paraxis {

void add(float* y, const float* a, const float* b, int64_t n);
void add_inplace(float* y, const float* a, int64_t n);
void dropout_forward(float* y, const float* x, int64_t n, float p, const Philox& rng);
void dropout_backward(float* dx, const float* dy, int64_t n, float p, const Philox& rng);

namespace ref {
template <class T>
void add(T* y, const T* a, const T* b, int64_t n);
// y = x * keep / (1 - p): forward and backward alike.
template <class T>
void dropout(T* y, const T* x, int64_t n, float p, const Philox& rng);
}  // namespace ref

}  // namespace paraxis
