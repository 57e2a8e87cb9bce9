#include "paraxis/nn/conv2d.h"

#include <cmath>

#include "paraxis/core/error.h"

namespace paraxis {

Conv2d::Conv2d(int64_t cin, int64_t cout, int64_t k, int64_t stride, int64_t pad, std::string name, bool bias)
    : Layer(std::move(name)), cin_(cin), cout_(cout), k_(k), stride_(stride), pad_(pad), has_bias_(bias) {
  PX_USER_CHECK(cin > 0 && cout > 0 && k > 0 && stride > 0 && pad >= 0,
                "conv2d {}: got cin={} cout={} k={} stride={} pad={}; channels, kernel and stride must be "
                "positive and pad non-negative (e.g. Conv2d(1, 16, 5, 1, 2))",
                name_, cin, cout, k, stride, pad);
  weight_ = make_param(join_name(name_, "weight"), {cout, cin, k, k});
  if (has_bias_) bias_ = make_param(join_name(name_, "bias"), {cout});
}

void Conv2d::init(uint64_t seed) {
  // PyTorch's default bounds for both weight and bias; each element is draw j of its parameter's stream, so a
  // shard is the slice of this initialisation (init_param_uniform); fan_in counts the full input channels.
  float bound = 1.0f / std::sqrt(static_cast<float>(weight_.full_shape[1] * k_ * k_));
  init_param_uniform(weight_, -bound, bound, seed);
  if (has_bias_) init_param_uniform(bias_, -bound, bound, seed);
}

void Conv2d::collect_params(std::vector<Param*>& out) {
  out.push_back(&weight_);
  if (has_bias_) out.push_back(&bias_);
}

Conv2dShape Conv2d::kernel_shape(const Shape& in) const {
  PX_USER_CHECK(in.size() == 4 && in[1] == cin_,
                "conv2d {}: input {} does not match expected (N, {}, H, W); pass a 4-d NCHW tensor with {} "
                "channel(s)",
                name_, shape_str(in), cin_, cin_);
  PX_USER_CHECK(
      in[2] + 2 * pad_ >= k_ && in[3] + 2 * pad_ >= k_,
      "conv2d {}: input {} is smaller than the {}x{} kernel with pad {}; use inputs of at least {}x{}", name_,
      shape_str(in), k_, k_, pad_, std::max<int64_t>(1, k_ - 2 * pad_), std::max<int64_t>(1, k_ - 2 * pad_));
  return Conv2dShape{in[0], cin_, in[2], in[3], cout_, k_, stride_, pad_};
}

Shape Conv2d::output_shape(const Shape& in) const {
  Conv2dShape s = kernel_shape(in);
  return {s.n, s.cout, s.oh(), s.ow()};
}

Tensor Conv2d::forward(Ctx& ctx, const Tensor& x) {
  Conv2dShape s = kernel_shape(x.shape());
  Tensor y      = Tensor::empty({s.n, s.cout, s.oh(), s.ow()});  // (N, Cout, OH, OW)
  conv2d_forward(y.data(), x.data(), weight_.value.data(), has_bias_ ? bias_.value.data() : nullptr, s);
  ctx.in_shape = x.shape();
  ctx.saved    = {x};  // (N, Cin, H, W), for the weight gradient
  return y;
}

Tensor Conv2d::backward_input(Ctx& ctx, const Tensor& dy) {
  PX_CHECK(!ctx.saved.empty(), "conv2d {}: backward_input without forward", name_);
  check_shape(dy, output_shape(ctx.in_shape), "conv2d backward dy");
  Tensor dx = Tensor::empty(ctx.in_shape);  // (N, Cin, H, W)
  conv2d_backward_data(dx.data(), dy.data(), weight_.value.data(), kernel_shape(ctx.in_shape));
  return dx;
}

void Conv2d::backward_weight(Ctx& ctx, const Tensor& dy) {
  PX_CHECK(!ctx.saved.empty(), "conv2d {}: backward_weight without forward", name_);
  check_shape(dy, output_shape(ctx.in_shape), "conv2d backward dy");
  const Tensor& x = ctx.saved[0];
  conv2d_backward_weights(weight_.grad.data(), has_bias_ ? bias_.grad.data() : nullptr, dy.data(), x.data(),
                          kernel_shape(ctx.in_shape));
  ctx.saved.clear();
}

Cost Conv2d::cost(const Shape& in) const {
  Conv2dShape s    = kernel_shape(in);
  double in_elems  = static_cast<double>(shape_numel(in));
  double out_elems = static_cast<double>(s.n) * s.cout * s.oh() * s.ow();
  double macs      = out_elems * s.cin * s.k * s.k;
  double bias_adds = has_bias_ ? out_elems : 0.0;
  double wbytes    = 4.0 * (cout_ * cin_ * k_ * k_ + (has_bias_ ? cout_ : 0));
  Cost c;
  c.fwd_flops        = 2.0 * macs + bias_adds;
  c.bwd_input_flops  = 2.0 * macs;
  c.bwd_weight_flops = 2.0 * macs + bias_adds;
  c.fwd_bytes        = 4.0 * (in_elems + out_elems) + wbytes;
  c.bwd_input_bytes  = 4.0 * (in_elems + out_elems) + wbytes;
  c.bwd_weight_bytes = 4.0 * (in_elems + out_elems) + 2.0 * wbytes;  // read and write the gradient
  c.param_bytes      = static_cast<int64_t>(wbytes);
  c.activation_bytes = static_cast<int64_t>(4.0 * in_elems);
  return c;
}

}  // namespace paraxis
