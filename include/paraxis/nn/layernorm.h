// paraxis/nn/layernorm.h — LayerNorm over the last dimension, eps 1e-5, weight and bias (torch.nn.LayerNorm).
//
//   LayerNorm ln(256, "blocks.0.ln1");     // blocks.0.ln1.weight (256) ones, blocks.0.ln1.bias (256) zeros
//   Tensor y = ln.forward(ctx, x);         // x (..., 256); keeps x and per-row mean, 1/std
//
// The GPT block fuses the residual add before it and after it (kernels/fused.h):
//   Tensor h, y = ln.forward_residual(ctx, x, f, drop, h);  // h = x + drop(f), y = LN(h): one pass; keeps h
//   Tensor dx   = ln.backward_input_residual(ctx, dy, dres); // dx = dres + LN'(dy)
// backward_input reads dy and the input once for both gradients: the weight and bias gradients' column sums
// are kept in ctx (2C floats, the input and statistics freed) and added by backward_weight.
#pragma once

#include "paraxis/kernels/fused.h"
#include "paraxis/nn/layer.h"

namespace paraxis {

class LayerNorm : public Layer {
 public:
  LayerNorm(int64_t features, std::string name, float eps = 1e-5f);
  const char* kind() const override { return "layernorm"; }
  Tensor forward(Ctx& ctx, const Tensor& x) override;
  Tensor backward_input(Ctx& ctx, const Tensor& dy) override;
  void backward_weight(Ctx& ctx, const Tensor& dy) override;
  Tensor forward_residual(Ctx& ctx, const Tensor& x, const Tensor& f, DropoutMask drop, Tensor& h);
  Tensor backward_input_residual(Ctx& ctx, const Tensor& dy, const Tensor& dres);
  Shape output_shape(const Shape& in) const override { return in; }
  Cost cost(const Shape& in) const override;
  void collect_params(std::vector<Param*>& out) override;
  void init(uint64_t seed) override;  // weight ones, bias zeros (no randomness)

  Param& weight() { return weight_; }
  Param& bias() { return bias_; }

 private:
  int64_t c_;
  float eps_;
  Param weight_, bias_;
  void check_input(const Tensor& x) const;
};

}  // namespace paraxis
