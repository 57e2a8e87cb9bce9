// Naive convolution and max-pool loops: the oracle for the oneDNN / hand-written fast paths.
#include <cstring>

#include "paraxis/kernels/conv.h"

namespace paraxis::ref {

template <class T>
void conv2d_forward(T* y, const T* x, const T* w, const T* b, const Conv2dShape& s) {
  const int64_t oh = s.oh(), ow = s.ow();
  for (int64_t n = 0; n < s.n; ++n)
    for (int64_t co = 0; co < s.cout; ++co)
      for (int64_t i = 0; i < oh; ++i)
        for (int64_t j = 0; j < ow; ++j) {
          double acc = b ? b[co] : 0.0;  // double even for float: a tighter oracle
          for (int64_t ci = 0; ci < s.cin; ++ci)
            for (int64_t ki = 0; ki < s.k; ++ki) {
              int64_t hi = i * s.stride - s.pad + ki;
              if (hi < 0 || hi >= s.h) continue;
              for (int64_t kj = 0; kj < s.k; ++kj) {
                int64_t wj = j * s.stride - s.pad + kj;
                if (wj < 0 || wj >= s.w) continue;
                acc += static_cast<double>(x[((n * s.cin + ci) * s.h + hi) * s.w + wj]) *
                       w[((co * s.cin + ci) * s.k + ki) * s.k + kj];
              }
            }
          y[((n * s.cout + co) * oh + i) * ow + j] = static_cast<T>(acc);
        }
}

template <class T>
void conv2d_backward_data(T* dx, const T* dy, const T* w, const Conv2dShape& s) {
  const int64_t oh = s.oh(), ow = s.ow();
  std::memset(dx, 0, sizeof(T) * s.n * s.cin * s.h * s.w);
  for (int64_t n = 0; n < s.n; ++n)
    for (int64_t co = 0; co < s.cout; ++co)
      for (int64_t i = 0; i < oh; ++i)
        for (int64_t j = 0; j < ow; ++j) {
          T g = dy[((n * s.cout + co) * oh + i) * ow + j];
          for (int64_t ci = 0; ci < s.cin; ++ci)
            for (int64_t ki = 0; ki < s.k; ++ki) {
              int64_t hi = i * s.stride - s.pad + ki;
              if (hi < 0 || hi >= s.h) continue;
              for (int64_t kj = 0; kj < s.k; ++kj) {
                int64_t wj = j * s.stride - s.pad + kj;
                if (wj < 0 || wj >= s.w) continue;
                dx[((n * s.cin + ci) * s.h + hi) * s.w + wj] +=
                    g * w[((co * s.cin + ci) * s.k + ki) * s.k + kj];
              }
            }
        }
}

template <class T>
void conv2d_backward_weights(T* dw, T* db, const T* dy, const T* x, const Conv2dShape& s) {
  const int64_t oh = s.oh(), ow = s.ow();
  for (int64_t n = 0; n < s.n; ++n)
    for (int64_t co = 0; co < s.cout; ++co)
      for (int64_t i = 0; i < oh; ++i)
        for (int64_t j = 0; j < ow; ++j) {
          T g = dy[((n * s.cout + co) * oh + i) * ow + j];
          if (db) db[co] += g;
          for (int64_t ci = 0; ci < s.cin; ++ci)
            for (int64_t ki = 0; ki < s.k; ++ki) {
              int64_t hi = i * s.stride - s.pad + ki;
              if (hi < 0 || hi >= s.h) continue;
              for (int64_t kj = 0; kj < s.k; ++kj) {
                int64_t wj = j * s.stride - s.pad + kj;
                if (wj < 0 || wj >= s.w) continue;
                dw[((co * s.cin + ci) * s.k + ki) * s.k + kj] +=
                    g * x[((n * s.cin + ci) * s.h + hi) * s.w + wj];
              }
            }
        }
}

namespace {
// Index (h * W + w) in its input plane of the first maximum of output window (i, j).
template <class T>
int64_t window_argmax(const T* plane, const Pool2dShape& s, int64_t i, int64_t j) {
  int64_t best = (i * s.stride) * s.w + j * s.stride;
  for (int64_t ki = 0; ki < s.k; ++ki)
    for (int64_t kj = 0; kj < s.k; ++kj) {
      int64_t idx = (i * s.stride + ki) * s.w + j * s.stride + kj;
      if (plane[idx] > plane[best]) best = idx;
    }
  return best;
}
}  // namespace

template <class T>
void maxpool2d_forward(T* y, const T* x, const Pool2dShape& s) {
  const int64_t oh = s.oh(), ow = s.ow();
  for (int64_t p = 0; p < s.n * s.c; ++p) {
    const T* plane = x + p * s.h * s.w;
    for (int64_t i = 0; i < oh; ++i)
      for (int64_t j = 0; j < ow; ++j) y[(p * oh + i) * ow + j] = plane[window_argmax(plane, s, i, j)];
  }
}

template <class T>
void maxpool2d_backward(T* dx, const T* dy, const T* x, const Pool2dShape& s) {
  const int64_t oh = s.oh(), ow = s.ow();
  std::memset(dx, 0, sizeof(T) * s.n * s.c * s.h * s.w);
  for (int64_t p = 0; p < s.n * s.c; ++p) {
    const T* plane = x + p * s.h * s.w;
    for (int64_t i = 0; i < oh; ++i)
      for (int64_t j = 0; j < ow; ++j)
        dx[p * s.h * s.w + window_argmax(plane, s, i, j)] += dy[(p * oh + i) * ow + j];
  }
}

#define PX_INSTANTIATE_CONV_REF(T)                                                          \
  template void conv2d_forward<T>(T*, const T*, const T*, const T*, const Conv2dShape&);    \
  template void conv2d_backward_data<T>(T*, const T*, const T*, const Conv2dShape&);        \
  template void conv2d_backward_weights<T>(T*, T*, const T*, const T*, const Conv2dShape&); \
  template void maxpool2d_forward<T>(T*, const T*, const Pool2dShape&);                     \
  template void maxpool2d_backward<T>(T*, const T*, const T*, const Pool2dShape&);
PX_INSTANTIATE_CONV_REF(float)
PX_INSTANTIATE_CONV_REF(double)
#undef PX_INSTANTIATE_CONV_REF

}  // namespace paraxis::ref
