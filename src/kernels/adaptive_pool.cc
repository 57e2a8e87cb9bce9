// Adaptive average pooling (kernels/adaptive_pool.h): plain loops over each plane's bins; it runs once per
// step on a small feature map (AlexNet's 256 planes before the classifier), so no library call.
#include "paraxis/kernels/adaptive_pool.h"

#include <cstring>

namespace paraxis {

void adaptive_avgpool2d_forward(float* y, const float* x, const AdaptivePool2dShape& s) {
  const int64_t planes = s.n * s.c, in_plane = s.h * s.w, out_plane = s.oh * s.ow;
#pragma omp parallel for if (planes * in_plane > 32768)
  for (int64_t p = 0; p < planes; ++p) {
    const float* xp = x + p * in_plane;
    float* yp       = y + p * out_plane;
    for (int64_t i = 0; i < s.oh; ++i) {
      const int64_t h0 = adaptive_bin_begin(i, s.h, s.oh), h1 = adaptive_bin_end(i, s.h, s.oh);
      for (int64_t j = 0; j < s.ow; ++j) {
        const int64_t w0 = adaptive_bin_begin(j, s.w, s.ow), w1 = adaptive_bin_end(j, s.w, s.ow);
        float sum = 0;
        for (int64_t r = h0; r < h1; ++r)
          for (int64_t c = w0; c < w1; ++c) sum += xp[r * s.w + c];
        yp[i * s.ow + j] = sum / static_cast<float>((h1 - h0) * (w1 - w0));
      }
    }
  }
}

void adaptive_avgpool2d_backward(float* dx, const float* dy, const AdaptivePool2dShape& s) {
  const int64_t planes = s.n * s.c, in_plane = s.h * s.w, out_plane = s.oh * s.ow;
#pragma omp parallel for if (planes * in_plane > 32768)
  for (int64_t p = 0; p < planes; ++p) {
    float* dxp = dx + p * in_plane;
    std::memset(dxp, 0, sizeof(float) * in_plane);
    const float* dyp = dy + p * out_plane;
    for (int64_t i = 0; i < s.oh; ++i) {
      const int64_t h0 = adaptive_bin_begin(i, s.h, s.oh), h1 = adaptive_bin_end(i, s.h, s.oh);
      for (int64_t j = 0; j < s.ow; ++j) {
        const int64_t w0 = adaptive_bin_begin(j, s.w, s.ow), w1 = adaptive_bin_end(j, s.w, s.ow);
        const float g = dyp[i * s.ow + j] / static_cast<float>((h1 - h0) * (w1 - w0));
        for (int64_t r = h0; r < h1; ++r)
          for (int64_t c = w0; c < w1; ++c) dxp[r * s.w + c] += g;
      }
    }
  }
}

}  // namespace paraxis
