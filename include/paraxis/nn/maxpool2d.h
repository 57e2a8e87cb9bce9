// paraxis/nn/maxpool2d.h — max pooling over K x K windows of (N, C, H, W), no padding (torch.nn.MaxPool2d).
//
//   MaxPool2d pool(2, 2, "pool1");
//   Tensor y  = pool.forward(ctx, x);          // x (N, 16, 28, 28) -> y (N, 16, 14, 14)
//   Tensor dx = pool.backward_input(ctx, dy);  // dy routed to each window's first maximum
//
// The forward keeps only the int32 argmax of each window (a quarter of the input for 2x2), not the input.
#pragma once

#include "paraxis/kernels/conv.h"
#include "paraxis/nn/layer.h"

namespace paraxis {

class MaxPool2d : public Layer {
 public:
  MaxPool2d(int64_t k, int64_t stride, std::string name);
  const char* kind() const override { return "maxpool2d"; }
  Tensor forward(Ctx& ctx, const Tensor& x) override;
  Tensor backward_input(Ctx& ctx, const Tensor& dy) override;
  Shape output_shape(const Shape& in) const override;
  Cost cost(const Shape& in) const override;
  int64_t kernel() const { return k_; }
  int64_t stride() const { return stride_; }

 private:
  Pool2dShape kernel_shape(const Shape& in) const;  // validates `in` against this layer
  int64_t k_, stride_;
};

}  // namespace paraxis
