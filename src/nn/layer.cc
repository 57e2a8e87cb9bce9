#include "paraxis/nn/layer.h"

#include <set>

namespace paraxis {

namespace {
void collect_stash(const Ctx& c, std::set<const void*>& seen, int64_t& bytes) {
  for (const Tensor& t : c.saved)
    if (t.defined() && seen.insert(t.raw()).second) bytes += static_cast<int64_t>(t.nbytes());
  for (const Ctx& ch : c.children) collect_stash(ch, seen, bytes);
}
}  // namespace

int64_t Ctx::stashed_bytes() const {
  std::set<const void*> seen;
  int64_t bytes = 0;
  collect_stash(*this, seen, bytes);
  return bytes;
}

Cost& Cost::operator+=(const Cost& o) {
  fwd_flops += o.fwd_flops;
  bwd_input_flops += o.bwd_input_flops;
  bwd_weight_flops += o.bwd_weight_flops;
  fwd_bytes += o.fwd_bytes;
  bwd_input_bytes += o.bwd_input_bytes;
  bwd_weight_bytes += o.bwd_weight_bytes;
  param_bytes += o.param_bytes;
  activation_bytes += o.activation_bytes;
  return *this;
}

void Layer::zero_grad() {
  for (Param* p : params()) p->grad.zero_();
}

Param make_param(const std::string& name, const Shape& shape) {
  Param p;
  p.name       = name;
  p.value      = Tensor::zeros(shape);
  p.grad       = Tensor::zeros(shape);
  p.full_shape = shape;
  return p;
}

std::string join_name(const std::string& prefix, const std::string& leaf) {
  return prefix.empty() ? leaf : prefix + "." + leaf;
}

}  // namespace paraxis
