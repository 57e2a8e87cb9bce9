// paraxis/kernels/adaptive_pool.h — adaptive average pooling of (N, C, H, W) to (N, C, OH, OW), forward and
// backward side by side (torch.nn.AdaptiveAvgPool2d).
//
//   AdaptivePool2dShape s{/*n=*/N, /*c=*/256, /*h=*/2, /*w=*/3, /*oh=*/6, /*ow=*/6};
//   adaptive_avgpool2d_forward(y, x, s);    // y (N, 256, 6, 6): each the mean of its bin of x (N, 256, 2, 3)
//   adaptive_avgpool2d_backward(dx, dy, s); // dx (N, 256, 2, 3), overwritten
//
// PyTorch's bins: output row i averages input rows [floor(i*H/OH), ceil((i+1)*H/OH)) (columns alike), so
// bins may overlap and be uneven, and an input smaller than the output is replicated (H=1: every bin is row
// 0). When H == OH and W == OW every bin is one element and the pool is the identity.
#pragma once

#include <cstdint>

namespace paraxis {

struct AdaptivePool2dShape {
  int64_t n = 1, c = 1, h = 1, w = 1;  // input (N, C, H, W)
  int64_t oh = 1, ow = 1;              // output (N, C, OH, OW)
};

// [begin, end) of input rows (or columns) that output bin i of `out` reads from `in`.
inline int64_t adaptive_bin_begin(int64_t i, int64_t in, int64_t out) {
  return i * in / out;
}
inline int64_t adaptive_bin_end(int64_t i, int64_t in, int64_t out) {
  return ((i + 1) * in + out - 1) / out;
}

// y (N, C, OH, OW) = the mean of each bin of x (N, C, H, W).
void adaptive_avgpool2d_forward(float* y, const float* x, const AdaptivePool2dShape& s);
// dx (N, C, H, W) = each dy spread evenly over its bin, summed where bins overlap; overwrites dx.
void adaptive_avgpool2d_backward(float* dx, const float* dy, const AdaptivePool2dShape& s);

namespace ref {
// Naive loops over every (output, input) pair with the bin bounds from floating-point floor/ceil (not the
// integer helpers above): an independent oracle. Instantiated for float and double.
template <class T>
void adaptive_avgpool2d_forward(T* y, const T* x, const AdaptivePool2dShape& s);
template <class T>
void adaptive_avgpool2d_backward(T* dx, const T* dy, const AdaptivePool2dShape& s);
}  // namespace ref

}  // namespace paraxis
