// paraxis/nn/attention.h — causal multi-head self-attention: qkv Linear, attention core, proj Linear.
//
//   CausalSelfAttention attn(/*width=*/256, /*heads=*/4, "blocks.0.attn");
//   // parameters blocks.0.attn.qkv.weight (768, 256), .qkv.bias (768), .proj.weight (256, 256), .proj.bias
//   (256) Tensor y = attn.forward(ctx, x);      // x (B, T, 256) -> y (B, T, 256)
//
// q, k, v are the three C-wide column blocks of the qkv output, in that order; head h uses columns
// [h*C/NH, (h+1)*C/NH) of each. softmax(q k^T / sqrt(C/NH)) with a causal mask, times v. init (GPT-2):
// weights N(0, 0.02), biases zeros. The core is the fused kernel of kernels/attention.h (no T x T matrix).
// Stored by forward: the qkv input x (B, T, C), the qkv output (B, T, 3C), the per-row logsumexp (B*NH, T)
// and the core output (B, T, C), which is also proj's input; qkv and lse are released by backward_input.
#pragma once

#include "paraxis/nn/linear.h"

namespace paraxis {

class CausalSelfAttention : public Layer {
 public:
  CausalSelfAttention(int64_t width, int64_t heads, std::string name);
  const char* kind() const override { return "causal_self_attention"; }
  Tensor forward(Ctx& ctx, const Tensor& x) override;
  Tensor backward_input(Ctx& ctx, const Tensor& dy) override;
  void backward_weight(Ctx& ctx, const Tensor& dy) override;
  Shape output_shape(const Shape& in) const override { return in; }
  Cost cost(const Shape& in) const override;
  void collect_params(std::vector<Param*>& out) override;
  void collect_layers(std::vector<Layer*>& out) override { out.push_back(&qkv_), out.push_back(&proj_); }
  void init(uint64_t seed) override;

  Linear& qkv() { return qkv_; }
  Linear& proj() { return proj_; }
  // Cost of the core alone (between the two linears), for x (B, T, C).
  Cost core_cost(const Shape& in) const;

 private:
  int64_t width_, heads_;
  Linear qkv_, proj_;
};

// Cost of the attention core (between qkv and proj) over `heads` heads of total width `width`, x (B, T, ·).
Cost attention_core_cost(const Shape& in, int64_t width, int64_t heads);

// Linear with GPT-2 initialisation: weight N(0, stddev), bias zeros.
class NormalInitLinear : public Linear {
 public:
  NormalInitLinear(int64_t in, int64_t out, std::string name, bool bias = true, float stddev = 0.02f)
      : Linear(in, out, std::move(name), bias), stddev_(stddev) {}
  void init(uint64_t seed) override;

 private:
  float stddev_;
};

}  // namespace paraxis
