// paraxis/nn/conv2d.h — 2-D convolution over (N, C, H, W), weights (Cout, Cin, K, K) as in torch.nn.Conv2d.
//
//   Conv2d conv(1, 16, /*k=*/5, /*stride=*/1, /*pad=*/2, "conv1");  // conv1.weight (16, 1, 5, 5), conv1.bias
//   (16) conv.init(seed);                         // U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = Cin * K * K
//   Tensor y = conv.forward(ctx, x);         // x (N, 1, 28, 28) -> y (N, 16, 28, 28)
//
// Square kernels, the same stride and zero padding on both axes; output size (H + 2 pad - K) / stride + 1.
#pragma once

#include "paraxis/kernels/conv.h"
#include "paraxis/nn/layer.h"

namespace paraxis {

class Conv2d : public Layer {
 public:
  Conv2d(int64_t cin, int64_t cout, int64_t k, int64_t stride, int64_t pad, std::string name,
         bool bias = true);
  const char* kind() const override { return "conv2d"; }
  Tensor forward(Ctx& ctx, const Tensor& x) override;
  Tensor backward_input(Ctx& ctx, const Tensor& dy) override;
  void backward_weight(Ctx& ctx, const Tensor& dy) override;
  Shape output_shape(const Shape& in) const override;
  Cost cost(const Shape& in) const override;
  void collect_params(std::vector<Param*>& out) override;
  void init(uint64_t seed) override;

  Param& weight() { return weight_; }
  Param& bias() { return bias_; }
  int64_t in_channels() const { return cin_; }
  int64_t out_channels() const { return cout_; }
  int64_t kernel() const { return k_; }
  int64_t stride() const { return stride_; }
  int64_t pad() const { return pad_; }
  bool has_bias() const { return has_bias_; }

 private:
  Conv2dShape kernel_shape(const Shape& in) const;  // validates `in` against this layer
  int64_t cin_, cout_, k_, stride_, pad_;
  bool has_bias_;
  Param weight_, bias_;
};

}  // namespace paraxis
