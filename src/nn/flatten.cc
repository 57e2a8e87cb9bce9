#include "paraxis/nn/flatten.h"

#include "paraxis/core/error.h"

namespace paraxis {

Flatten::Flatten(std::string name) : Layer(std::move(name)) {}

Shape Flatten::output_shape(const Shape& in) const {
  PX_USER_CHECK(in.size() >= 2, "flatten {}: input {} has fewer than 2 dimensions; expected (N, ...)", name_,
                shape_str(in));
  int64_t features = 1;
  for (size_t i = 1; i < in.size(); ++i) features *= in[i];
  return {in[0], features};
}

Tensor Flatten::forward(Ctx& ctx, const Tensor& x) {
  Shape out    = output_shape(x.shape());
  ctx.in_shape = x.shape();
  return x.view(out);
}

Tensor Flatten::backward_input(Ctx& ctx, const Tensor& dy) {
  PX_CHECK(!ctx.in_shape.empty(), "flatten {}: backward_input without forward", name_);
  check_shape(dy, output_shape(ctx.in_shape), "flatten backward dy");
  return dy.view(ctx.in_shape);
}

Cost Flatten::cost(const Shape& in) const {
  output_shape(in);  // validates
  return Cost{};     // a view: no flops, no traffic, nothing stored
}

}  // namespace paraxis
