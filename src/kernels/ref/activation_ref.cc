#include <cmath>

#include "paraxis/kernels/activation.h"

namespace paraxis::ref {

template <class T>
void relu_forward(T* y, const T* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] > 0 ? x[i] : T(0);
}

template <class T>
void relu_backward(T* dx, const T* dy, const T* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dx[i] = y[i] > 0 ? dy[i] : T(0);
}

// GELU(x) = x * Phi(x) = 0.5 x (1 + erf(x / sqrt 2)).
template <class T>
void gelu_forward(T* y, const T* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = T(0.5) * x[i] * (T(1) + std::erf(x[i] / std::sqrt(T(2))));
}

// GELU'(x) = Phi(x) + x phi(x), phi the standard normal density.
template <class T>
void gelu_backward(T* dx, const T* dy, const T* x, int64_t n) {
  const T inv_sqrt_2pi = T(0.3989422804014327);
  for (int64_t i = 0; i < n; ++i) {
    T cdf = T(0.5) * (T(1) + std::erf(x[i] / std::sqrt(T(2))));
    T pdf = inv_sqrt_2pi * std::exp(T(-0.5) * x[i] * x[i]);
    dx[i] = dy[i] * (cdf + x[i] * pdf);
  }
}

#define PX_INSTANTIATE(T)                                          \
  template void relu_forward<T>(T*, const T*, int64_t);            \
  template void relu_backward<T>(T*, const T*, const T*, int64_t); \
  template void gelu_forward<T>(T*, const T*, int64_t);            \
  template void gelu_backward<T>(T*, const T*, const T*, int64_t);
PX_INSTANTIATE(float)
PX_INSTANTIATE(double)
#undef PX_INSTANTIATE

}  // namespace paraxis::ref
