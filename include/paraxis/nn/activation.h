// paraxis/nn/activation.h — ReLU and GELU layers (no parameters).
//
//   ReLU relu("relu1");
//   Tensor y  = relu.forward(ctx, x);           // any shape; keeps y (the next Linear keeps the same tensor)
//   Tensor dx = relu.backward_input(ctx, dy);
//   GELU gelu("blocks.0.mlp.gelu");             // exact erf form = torch.nn.GELU() (approximate='none');
//                                               // keeps its input x
#pragma once

#include "paraxis/nn/layer.h"

namespace paraxis {

class ReLU : public Layer {
 public:
  explicit ReLU(std::string name) : Layer(std::move(name)) {}
  const char* kind() const override { return "relu"; }
  Tensor forward(Ctx& ctx, const Tensor& x) override;
  Tensor backward_input(Ctx& ctx, const Tensor& dy) override;
  void backward_weight(Ctx& ctx, const Tensor& dy) override;
  Shape output_shape(const Shape& in) const override { return in; }
  Cost cost(const Shape& in) const override;
};

class GELU : public Layer {
 public:
  explicit GELU(std::string name) : Layer(std::move(name)) {}
  const char* kind() const override { return "gelu"; }
  Tensor forward(Ctx& ctx, const Tensor& x) override;
  Tensor backward_input(Ctx& ctx, const Tensor& dy) override;
  void backward_weight(Ctx& ctx, const Tensor& dy) override;
  Shape output_shape(const Shape& in) const override { return in; }
  Cost cost(const Shape& in) const override;
};

}  // namespace paraxis
