#include <cmath>

#include "paraxis/kernels/layernorm.h"

namespace paraxis::ref {

template <class T>
void layernorm_forward(T* y, T* mean, T* rstd, const T* x, const T* w, const T* b, int64_t n, int64_t c,
                       T eps) {
  for (int64_t i = 0; i < n; ++i) {
    const T* xr = x + i * c;
    double m = 0, v = 0;
    for (int64_t j = 0; j < c; ++j) m += xr[j];
    m /= c;
    for (int64_t j = 0; j < c; ++j) v += (xr[j] - m) * (xr[j] - m);
    v /= c;
    T r = static_cast<T>(1.0 / std::sqrt(v + eps));
    for (int64_t j = 0; j < c; ++j) y[i * c + j] = static_cast<T>((xr[j] - m) * r) * w[j] + b[j];
    mean[i] = static_cast<T>(m);
    rstd[i] = r;
  }
}

// dx = rstd * (g - mean(g) - xhat * mean(g * xhat)),  g = dy * w.
template <class T>
void layernorm_backward_input(T* dx, const T* dy, const T* x, const T* w, const T* mean, const T* rstd,
                              int64_t n, int64_t c) {
  for (int64_t i = 0; i < n; ++i) {
    double g_mean = 0, gx_mean = 0;
    for (int64_t j = 0; j < c; ++j) {
      double xhat = (x[i * c + j] - mean[i]) * rstd[i];
      double g    = static_cast<double>(dy[i * c + j]) * w[j];
      g_mean += g;
      gx_mean += g * xhat;
    }
    g_mean /= c;
    gx_mean /= c;
    for (int64_t j = 0; j < c; ++j) {
      double xhat   = (x[i * c + j] - mean[i]) * rstd[i];
      double g      = static_cast<double>(dy[i * c + j]) * w[j];
      dx[i * c + j] = static_cast<T>(rstd[i] * (g - g_mean - xhat * gx_mean));
    }
  }
}

template <class T>
void layernorm_backward_weight(T* dw, T* db, const T* dy, const T* x, const T* mean, const T* rstd, int64_t n,
                               int64_t c) {
  for (int64_t j = 0; j < c; ++j) {
    double sw = 0, sb = 0;
    for (int64_t i = 0; i < n; ++i) {
      sw += static_cast<double>(dy[i * c + j]) * (x[i * c + j] - mean[i]) * rstd[i];
      sb += dy[i * c + j];
    }
    dw[j] += static_cast<T>(sw);
    db[j] += static_cast<T>(sb);
  }
}

#define PX_INSTANTIATE(T)                                                                                  \
  template void layernorm_forward<T>(T*, T*, T*, const T*, const T*, const T*, int64_t, int64_t, T);       \
  template void layernorm_backward_input<T>(T*, const T*, const T*, const T*, const T*, const T*, int64_t, \
                                            int64_t);                                                      \
  template void layernorm_backward_weight<T>(T*, T*, const T*, const T*, const T*, const T*, int64_t,      \
                                             int64_t);
PX_INSTANTIATE(float)
PX_INSTANTIATE(double)
#undef PX_INSTANTIATE

}  // namespace paraxis::ref
