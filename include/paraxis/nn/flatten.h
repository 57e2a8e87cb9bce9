// paraxis/nn/flatten.h — (N, d1, d2, ...) -> (N, d1 * d2 * ...), a view (torch.flatten(x, 1)).
//
//   Flatten flat("flatten");
//   Tensor y  = flat.forward(ctx, x);          // x (N, 32, 7, 7) -> y (N, 1568), same storage
//   Tensor dx = flat.backward_input(ctx, dy);  // dy (N, 1568) -> dx (N, 32, 7, 7), same storage
//
// Row-major (N, C, H, W) flattens in C-major order, which is PyTorch's order. No copies, no flops.
#pragma once

#include "paraxis/nn/layer.h"

namespace paraxis {

class Flatten : public Layer {
 public:
  explicit Flatten(std::string name);
  const char* kind() const override { return "flatten"; }
  Tensor forward(Ctx& ctx, const Tensor& x) override;
  Tensor backward_input(Ctx& ctx, const Tensor& dy) override;
  Shape output_shape(const Shape& in) const override;
  Cost cost(const Shape& in) const override;
};

}  // namespace paraxis
