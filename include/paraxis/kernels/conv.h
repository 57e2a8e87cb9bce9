// paraxis/kernels/conv.h — 2-D convolution and max pooling, forward and backward side by side (NCHW).
//
//   Conv2dShape s{/*n=*/N, /*cin=*/1, /*h=*/28, /*w=*/28, /*cout=*/16, /*k=*/5, /*stride=*/1, /*pad=*/2};
//   conv2d_forward(y, x, w, b, s);               // y (N, 16, 28, 28) = x (N, 1, 28, 28) * w (16, 1, 5, 5) +
//   b conv2d_backward_data(dx, dy, w, s);          // dx (N, 1, 28, 28), overwritten
//   conv2d_backward_weights(dw, db, dy, x, s);   // dw (16, 1, 5, 5) and db (16) ACCUMULATE (+=)
//
//   Pool2dShape p{N, 16, 28, 28, /*k=*/2, /*stride=*/2};
//   maxpool2d_forward(y, argmax, x, p);          // y, argmax (N, 16, 14, 14); argmax indexes the input plane
//   maxpool2d_backward(dx, dy, argmax, p);       // dx (N, 16, 28, 28), overwritten
//
// Layouts are plain row-major: activations (N, C, H, W), weights (Cout, Cin, K, K) as in torch.nn.Conv2d.
// Output sizes follow PyTorch (floor): OH = (H + 2 pad - K) / stride + 1. The convolutions' fast path is
// oneDNN with primitives cached per thread; max pooling is a hand-written loop (a strided max over a few
// values; a library call would cost more in reorders than it saves). The ref:: kernels are naive loops on
// float or double, kept as the test oracle (double for finite differences) and the PARAXIS_KERNELS=ref
// fallback.
#pragma once

#include <cstdint>

namespace paraxis {

struct Conv2dShape {
  int64_t n = 1, cin = 1, h = 1, w = 1;  // input (N, Cin, H, W)
  int64_t cout = 1, k = 1;               // weights (Cout, Cin, K, K)
  int64_t stride = 1, pad = 0;           // same on both axes; zero padding on every side
  int64_t oh() const { return (h + 2 * pad - k) / stride + 1; }
  int64_t ow() const { return (w + 2 * pad - k) / stride + 1; }
  bool operator==(const Conv2dShape&) const = default;
};

struct Pool2dShape {
  int64_t n = 1, c = 1, h = 1, w = 1;  // input (N, C, H, W)
  int64_t k = 2, stride = 2;           // window K x K, no padding
  int64_t oh() const { return (h - k) / stride + 1; }
  int64_t ow() const { return (w - k) / stride + 1; }
};

// y (N, Cout, OH, OW) = conv(x (N, Cin, H, W), w (Cout, Cin, K, K)) + b (Cout); b may be null.
void conv2d_forward(float* y, const float* x, const float* w, const float* b, const Conv2dShape& s);
// dx (N, Cin, H, W) = conv_transpose(dy (N, Cout, OH, OW), w); overwrites dx.
void conv2d_backward_data(float* dx, const float* dy, const float* w, const Conv2dShape& s);
// dw (Cout, Cin, K, K) += dL/dw;  db (Cout) += sum over N, OH, OW of dy; db may be null.
void conv2d_backward_weights(float* dw, float* db, const float* dy, const float* x, const Conv2dShape& s);

// y (N, C, OH, OW) = max over each window of x (N, C, H, W); argmax (N, C, OH, OW) = index h * W + w of the
// first maximum in its input plane (PyTorch's tie rule), for the backward pass.
void maxpool2d_forward(float* y, int32_t* argmax, const float* x, const Pool2dShape& s);
// dx (N, C, H, W) = scatter-add of dy (N, C, OH, OW) to the argmax positions; overwrites dx.
void maxpool2d_backward(float* dx, const float* dy, const int32_t* argmax, const Pool2dShape& s);

namespace ref {
// Naive loops; instantiated for float and double. Same contracts as above (backward_weights accumulates).
template <class T>
void conv2d_forward(T* y, const T* x, const T* w, const T* b, const Conv2dShape& s);
template <class T>
void conv2d_backward_data(T* dx, const T* dy, const T* w, const Conv2dShape& s);
template <class T>
void conv2d_backward_weights(T* dw, T* db, const T* dy, const T* x, const Conv2dShape& s);
template <class T>
void maxpool2d_forward(T* y, const T* x, const Pool2dShape& s);
// Recomputes each window's first maximum from x rather than trusting a stored argmax: an independent oracle.
template <class T>
void maxpool2d_backward(T* dx, const T* dy, const T* x, const Pool2dShape& s);
}  // namespace ref

}  // namespace paraxis
