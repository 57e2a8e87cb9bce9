// paraxis/nn/adaptive_avgpool2d.h — average pooling of (N, C, H, W) to a fixed (N, C, OH, OW)
// (torch.nn.AdaptiveAvgPool2d((OH, OW)); bins as in kernels/adaptive_pool.h, uneven or overlapping).
//
//   AdaptiveAvgPool2d pool(6, 6, "avgpool");
//   Tensor y  = pool.forward(ctx, x);          // x (N, 256, 2, 2) -> y (N, 256, 6, 6)
//   Tensor dx = pool.backward_input(ctx, dy);  // dy spread evenly over each bin
//
// Stores nothing but the input's shape. A bin may span any rows, so the layer needs whole images: under
// domain parallelism (--sp) it runs after the layout change from row slabs (parallel/spatial.h).
#pragma once

#include "paraxis/kernels/adaptive_pool.h"
#include "paraxis/nn/layer.h"

namespace paraxis {

class AdaptiveAvgPool2d : public Layer {
 public:
  AdaptiveAvgPool2d(int64_t oh, int64_t ow, std::string name);
  const char* kind() const override { return "adaptive_avgpool2d"; }
  Tensor forward(Ctx& ctx, const Tensor& x) override;
  Tensor backward_input(Ctx& ctx, const Tensor& dy) override;
  Shape output_shape(const Shape& in) const override;
  Cost cost(const Shape& in) const override;

 private:
  AdaptivePool2dShape kernel_shape(const Shape& in) const;  // validates `in`
  int64_t oh_, ow_;
};

}  // namespace paraxis
