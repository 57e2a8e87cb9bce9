// Reference adaptive average pooling (kernels/adaptive_pool.h): for every output element, a pass over the
// whole input plane that keeps the elements inside its bin, the bin bounds from floor/ceil of real numbers.
#include <cmath>
#include <cstring>

#include "paraxis/kernels/adaptive_pool.h"

namespace paraxis::ref {

namespace {
// Whether input index k lies in output bin i of `out` bins over `in`: floor(i*in/out) <= k < ceil((i+1)*in/out).
bool in_bin(int64_t k, int64_t i, int64_t in, int64_t out) {
  const double lo = std::floor(static_cast<double>(i) * in / out);
  const double hi = std::ceil(static_cast<double>(i + 1) * in / out);
  return k >= lo && k < hi;
}

// Calls f(input index, output index, 1 / bin size) for every input element of every bin of one plane.
template <class F>
void for_each_member(const AdaptivePool2dShape& s, F f) {
  for (int64_t i = 0; i < s.oh; ++i)
    for (int64_t j = 0; j < s.ow; ++j) {
      int64_t count = 0;
      for (int64_t r = 0; r < s.h; ++r)
        for (int64_t c = 0; c < s.w; ++c) count += in_bin(r, i, s.h, s.oh) && in_bin(c, j, s.w, s.ow);
      for (int64_t r = 0; r < s.h; ++r)
        for (int64_t c = 0; c < s.w; ++c)
          if (in_bin(r, i, s.h, s.oh) && in_bin(c, j, s.w, s.ow)) f(r * s.w + c, i * s.ow + j, 1.0 / count);
    }
}
}  // namespace

template <class T>
void adaptive_avgpool2d_forward(T* y, const T* x, const AdaptivePool2dShape& s) {
  for (int64_t p = 0; p < s.n * s.c; ++p) {
    T* yp       = y + p * s.oh * s.ow;
    const T* xp = x + p * s.h * s.w;
    for (int64_t o = 0; o < s.oh * s.ow; ++o) yp[o] = 0;
    for_each_member(s, [&](int64_t in, int64_t out, double inv) { yp[out] += static_cast<T>(xp[in] * inv); });
  }
}

template <class T>
void adaptive_avgpool2d_backward(T* dx, const T* dy, const AdaptivePool2dShape& s) {
  std::memset(dx, 0, sizeof(T) * s.n * s.c * s.h * s.w);
  for (int64_t p = 0; p < s.n * s.c; ++p) {
    T* dxp       = dx + p * s.h * s.w;
    const T* dyp = dy + p * s.oh * s.ow;
    for_each_member(s,
                    [&](int64_t in, int64_t out, double inv) { dxp[in] += static_cast<T>(dyp[out] * inv); });
  }
}

template void adaptive_avgpool2d_forward<float>(float*, const float*, const AdaptivePool2dShape&);
template void adaptive_avgpool2d_forward<double>(double*, const double*, const AdaptivePool2dShape&);
template void adaptive_avgpool2d_backward<float>(float*, const float*, const AdaptivePool2dShape&);
template void adaptive_avgpool2d_backward<double>(double*, const double*, const AdaptivePool2dShape&);

}  // namespace paraxis::ref
