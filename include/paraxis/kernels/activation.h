// paraxis/kernels/activation.h — elementwise activations, forward and backward side by side.
//
//   relu_forward(y, x, n);            // y = max(x, 0)
//   relu_backward(dx, dy, y, n);      // dx = dy where the forward output y > 0, else 0
//   gelu_forward(y, x, n);            // exact (erf) GELU = torch.nn.GELU() with approximate='none'
//   gelu_backward(dx, dy, x, n);      // needs the forward input x
//
// The fast kernels are vectorised loops (GELU's erf uses Abramowitz & Stegun 7.1.26, |error| < 1.5e-7, and a
// polynomial exp); ref:: holds the naive std::erf versions, templated on the scalar so tests can run them in
// double. set_kernel_path(KernelPath::kRef) routes the fast entry points to ref<float>.
#pragma once

#include <cstdint>

namespace paraxis {

void relu_forward(float* y, const float* x, int64_t n);
void relu_backward(float* dx, const float* dy, const float* y, int64_t n);
void gelu_forward(float* y, const float* x, int64_t n);
void gelu_backward(float* dx, const float* dy, const float* x, int64_t n);

namespace ref {
template <class T>
void relu_forward(T* y, const T* x, int64_t n);
template <class T>
void relu_backward(T* dx, const T* dy, const T* y, int64_t n);
template <class T>
void gelu_forward(T* y, const T* x, int64_t n);
template <class T>
void gelu_backward(T* dx, const T* dy, const T* x, int64_t n);
}  // namespace ref

}  // namespace paraxis
