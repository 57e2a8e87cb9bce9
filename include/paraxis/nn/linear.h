// paraxis/nn/linear.h — y = x W^T + b, W stored (out, in) as in torch.nn.Linear.
//
//   Linear fc(784, 256, "fc1");   // parameters fc1.weight (256, 784), fc1.bias (256)
//   fc.init(seed);                // U(-1/sqrt(in), 1/sqrt(in)) for both, PyTorch's default bounds
//
// Input (N, in) or (B, T, in): all leading dimensions are flattened into N.
//
//   fc.fuse_gelu();               // y = gelu(x W^T + b): the GELU is this layer's epilogue (the GPT's fc1).
//                                 // Keeps the pre-activation u; the backward makes du = dy gelu'(u) and the
//                                 // bias gradient's column sums in one pass (kernels/fused.h).
#pragma once

#include <utility>
#include <vector>

#include "paraxis/nn/layer.h"

namespace paraxis {

class Linear : public Layer {
 public:
  Linear(int64_t in, int64_t out, std::string name, bool bias = true);
  const char* kind() const override { return "linear"; }
  Tensor forward(Ctx& ctx, const Tensor& x) override;
  Tensor backward_input(Ctx& ctx, const Tensor& dy) override;
  void backward_weight(Ctx& ctx, const Tensor& dy) override;
  Shape output_shape(const Shape& in) const override;
  Cost cost(const Shape& in) const override;
  void collect_params(std::vector<Param*>& out) override;
  void init(uint64_t seed) override;

  bool defer_weight_grads(bool on) override;
  void flush_weight_grads() override;
  int64_t deferred_bytes() const override;

  Linear& fuse_gelu() {
    gelu_ = true;
    return *this;
  }
  bool gelu() const { return gelu_; }
  int64_t in_features() const { return in_; }
  int64_t out_features() const { return out_; }
  Param& weight() { return weight_; }
  Param& bias() { return bias_; }

 private:
  int64_t in_, out_;
  bool has_bias_;
  bool gelu_ = false;
  Param weight_, bias_;
  bool defer_ = false;
  std::vector<std::pair<Tensor, Tensor>> pending_;  // (x (n, in), dy (n, out)) per deferred backward_weight
  // --precision bf16: the weight as the last forward rounded it, read again by backward_input (the weights
  // change only in the optimizer step, after every backward of a step; a recompute runs the forward again).
  std::vector<uint16_t> weight_bf16_;
  const float* rounded_from_ = nullptr;    // the weight storage weight_bf16_ was rounded from, or null
  uint16_t* round_weight();                // the buffer to round into, or null in fp32
  const uint16_t* rounded_weight() const;  // the last forward's rounding, or null
};

}  // namespace paraxis
