// paraxis/nn/activation.h — PLACEHOLDER from branch h/conv so build_cnn compiles; replace with the layers
// helper's activation.h (and drop src/nn/relu_tmp.cc) at merge time.
//
//   ReLU relu("relu1");
//   Tensor y = relu.forward(ctx, x);   // max(x, 0), any shape
#pragma once

#include "paraxis/nn/layer.h"

namespace paraxis {

class ReLU : public Layer {
 public:
  explicit ReLU(std::string name);
  const char* kind() const override { return "relu"; }
  Tensor forward(Ctx& ctx, const Tensor& x) override;
  Tensor backward_input(Ctx& ctx, const Tensor& dy) override;
  Shape output_shape(const Shape& in) const override { return in; }
  Cost cost(const Shape& in) const override;
};

}  // namespace paraxis
