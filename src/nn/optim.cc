#include "paraxis/nn/optim.h"

#include <algorithm>
#include <cmath>
#include <unordered_map>
#include <unordered_set>

#include "paraxis/core/error.h"

namespace paraxis {

Optimizer::Optimizer(std::vector<Param*> params) : params_(std::move(params)), slots_(params_.size()) {
  std::unordered_set<std::string> names;
  for (size_t i = 0; i < params_.size(); ++i) {
    PX_CHECK(params_[i] != nullptr, "optimizer: parameter {} is null", i);
    const Param& p = *params_[i];
    PX_CHECK(p.value.defined() && p.value.dtype() == DType::kF32, "optimizer: {} has no float32 value",
             p.name);
    PX_CHECK(p.grad.defined() && p.grad.shape() == p.value.shape(), "optimizer: {} grad {} vs value {}",
             p.name, p.grad.defined() ? shape_str(p.grad.shape()) : "undefined", shape_str(p.value.shape()));
    // State is saved and restored by name: two parameters with one name would overwrite each other.
    PX_CHECK(names.insert(p.name).second, "optimizer: two parameters are named '{}'", p.name);
  }
  // The step counter is per parameter, like PyTorch's state['step'], so a subset can be stepped on its own.
  add_slot("step", DType::kI32);
}

void Optimizer::add_slot(const std::string& buffer, DType dtype) {
  for (size_t i = 0; i < params_.size(); ++i) {
    Shape shape = buffer == "step" ? Shape{1} : params_[i]->value.shape();
    slots_[i].push_back({buffer, Tensor::zeros(shape, dtype)});
  }
}

void Optimizer::step_range(double lr, size_t first, size_t last) {
  PX_USER_CHECK(std::isfinite(lr) && lr >= 0, "{}: learning rate {} must be finite and >= 0", kind(), lr);
  PX_CHECK(first <= last && last <= params_.size(), "{}: step range [{}, {}) of {} params", kind(), first,
           last, params_.size());
  for (size_t i = first; i < last; ++i) update_param(i, lr, false, nullptr);
}

namespace {

// One pass over [begin, end) of a gradient g: body(i, g[i]) updates element i; with kNorm the squares of g
// are summed as sum_of_squares sums them (16 double lanes from `begin`, then the tail, then the lanes; the
// same bits) and added to *sq; with kZero g[i] is zeroed after it was read.
template <bool kNorm, bool kZero, class Body>
void fused_pass(float* g, int64_t begin, int64_t end, double* sq, const Body& body) {
  constexpr int kLanes = 16;
  double lane[kLanes]  = {};
  int64_t i            = begin;
  for (; i + kLanes <= end; i += kLanes) {
#pragma omp simd
    for (int k = 0; k < kLanes; ++k) {
      const float gi = g[i + k];
      if constexpr (kNorm) lane[k] += static_cast<double>(gi) * gi;
      body(i + k, gi);
      if constexpr (kZero) g[i + k] = 0.0f;
    }
  }
  double sum = 0;
  for (; i < end; ++i) {
    const float gi = g[i];
    if constexpr (kNorm) sum += static_cast<double>(gi) * gi;
    body(i, gi);
    if constexpr (kZero) g[i] = 0.0f;
  }
  if constexpr (kNorm) {
    for (double v : lane) sum += v;
    *sq += sum;
  }
}

template <class Body>
void fused_pass(float* g, int64_t begin, int64_t end, double* sq, bool zero, const Body& body) {
  if (sq != nullptr)
    zero ? fused_pass<true, true>(g, begin, end, sq, body) : fused_pass<true, false>(g, begin, end, sq, body);
  else
    zero ? fused_pass<false, true>(g, begin, end, sq, body)
         : fused_pass<false, false>(g, begin, end, sq, body);
}

}  // namespace

void Optimizer::step_fused(double lr, bool zero_grads, std::vector<double>* grad_sq) {
  PX_USER_CHECK(std::isfinite(lr) && lr >= 0, "{}: learning rate {} must be finite and >= 0", kind(), lr);
  PX_CHECK(grad_sq == nullptr || grad_sq->size() == params_.size(), "{}: {} norm slots for {} params", kind(),
           grad_sq ? grad_sq->size() : 0, params_.size());
  for (size_t i = 0; i < params_.size(); ++i)
    update_param(i, lr, zero_grads, grad_sq ? &(*grad_sq)[i] : nullptr);
}

void Optimizer::update_param(size_t i, double lr, bool zero_grads, double* grad_sq) {
  Param& p         = *params_[i];
  int32_t& counter = slots_[i][0].tensor.data_i32()[0];
  const UpdatePlan plan{lr, counter};
  ++counter;
  // 16 Ki floats (64 KiB) per chunk: a device with several kernel threads splits the chunks, and the norm
  // is summed per chunk.
  constexpr int64_t kChunk = int64_t{1} << 14;
  const int64_t n          = p.value.numel();
  const int64_t chunks     = (n + kChunk - 1) / kChunk;
  std::vector<double> partial(grad_sq ? chunks : 0);
  // Chunks are independent: a device with several kernel threads (--threads-per-device) splits them. The
  // norm's partial sums are added in chunk order afterwards, so it does not depend on the thread count.
#pragma omp parallel for schedule(static) if (chunks > 8)
  for (int64_t c = 0; c < chunks; ++c) {
    const int64_t b = c * kChunk, e = std::min(n, b + kChunk);
    update(p, slots_[i], plan, b, e, {grad_sq ? &partial[c] : nullptr, zero_grads});
  }
  for (double v : partial) *grad_sq += v;
}

std::vector<NamedTensor> Optimizer::state() {
  std::vector<NamedTensor> out;
  for (size_t i = 0; i < params_.size(); ++i)
    for (const Slot& s : slots_[i]) out.push_back({params_[i]->name + "." + s.buffer, s.tensor});
  return out;
}

void Optimizer::load_state(const std::vector<NamedTensor>& saved) {
  std::unordered_map<std::string, const Tensor*> by_name;
  for (const NamedTensor& t : saved) by_name[t.name] = &t.tensor;
  for (NamedTensor& live : state()) {
    auto it = by_name.find(live.name);
    PX_USER_CHECK(it != by_name.end(),
                  "{} state: '{}' is missing from the saved state ({} tensors); was it saved "
                  "by the same optimizer over the same model?",
                  kind(), live.name, saved.size());
    const Tensor& src = *it->second;
    PX_USER_CHECK(src.shape() == live.tensor.shape() && src.dtype() == live.tensor.dtype(),
                  "{} state: '{}' is {} {} in the saved state but {} {} here", kind(), live.name,
                  dtype_name(src.dtype()), shape_str(src.shape()), dtype_name(live.tensor.dtype()),
                  shape_str(live.tensor.shape()));
    live.tensor.copy_from(src);
  }
}

int64_t Optimizer::state_bytes() const {
  int64_t bytes = 0;
  for (const auto& slots : slots_)
    for (const Slot& s : slots) bytes += static_cast<int64_t>(s.tensor.nbytes());
  return bytes;
}

// --- SGD
// ----------------------------------------------------------------------------------------------------

Sgd::Sgd(std::vector<Param*> params, SgdOptions opt) : Optimizer(std::move(params)), opt_(opt) {
  PX_USER_CHECK(opt.momentum >= 0 && opt.momentum < 1, "sgd: momentum {} must be in [0, 1); 0.9 is usual",
                opt.momentum);
  PX_USER_CHECK(opt.weight_decay >= 0, "sgd: weight decay {} must be >= 0", opt.weight_decay);
  if (opt_.momentum != 0) add_slot("momentum_buffer", DType::kF32);
}

void Sgd::update(Param& p, std::vector<Slot>& slots, const UpdatePlan& plan, int64_t begin, int64_t end,
                 Fused fused) {
  float* w           = p.value.data();
  const float wd     = static_cast<float>(opt_.weight_decay);
  const float mom    = static_cast<float>(opt_.momentum);
  const float neg_lr = static_cast<float>(-plan.lr);
  float* buf         = opt_.momentum != 0 ? slots[1].tensor.data() : nullptr;
  const bool first   = plan.step == 0;
  // Loop-invariant branches outside the loop, so that each variant vectorises.
  auto pass = [&](auto&& body) {
    fused_pass(p.grad.data(), begin, end, fused.grad_sq, fused.zero_grads, body);
  };
  auto decayed = [=](int64_t i, float g) { return wd != 0 ? g + wd * w[i] : g; };  // d_p = grad + wd·param
  if (!buf)
    pass([=](int64_t i, float g) { w[i] = w[i] + neg_lr * decayed(i, g); });
  else if (first)  // first step: buf = clone(d_p); dampening = 0
    pass([=](int64_t i, float g) {
      buf[i] = decayed(i, g);
      w[i]   = w[i] + neg_lr * buf[i];
    });
  else
    pass([=](int64_t i, float g) {
      buf[i] = buf[i] * mom + decayed(i, g);
      w[i]   = w[i] + neg_lr * buf[i];
    });
}

// --- AdamW
// --------------------------------------------------------------------------------------------------

AdamW::AdamW(std::vector<Param*> params, AdamWOptions opt) : Optimizer(std::move(params)), opt_(opt) {
  PX_USER_CHECK(opt.beta1 >= 0 && opt.beta1 < 1 && opt.beta2 >= 0 && opt.beta2 < 1,
                "adamw: betas ({}, {}) must be in [0, 1); (0.9, 0.999) is PyTorch's default", opt.beta1,
                opt.beta2);
  PX_USER_CHECK(opt.eps > 0, "adamw: eps {} must be > 0; 1e-8 is PyTorch's default", opt.eps);
  PX_USER_CHECK(opt.weight_decay >= 0, "adamw: weight decay {} must be >= 0", opt.weight_decay);
  add_slot("exp_avg", DType::kF32);
  add_slot("exp_avg_sq", DType::kF32);
}

void AdamW::update(Param& p, std::vector<Slot>& slots, const UpdatePlan& plan, int64_t begin, int64_t end,
                   Fused fused) {
  float* m        = slots[1].tensor.data();
  float* v        = slots[2].tensor.data();
  float* w        = p.value.data();
  const double lr = plan.lr;
  // Scalars as torch 1.13's _single_tensor_adamw computes them in Python (double), rounded when applied;
  // t is the step count after its increment.
  const double t    = plan.step + 1;
  const float decay = static_cast<float>(1.0 - lr * opt_.weight_decay);
  const float b1 = static_cast<float>(opt_.beta1), one_minus_b1 = static_cast<float>(1.0 - opt_.beta1);
  const float b2 = static_cast<float>(opt_.beta2), one_minus_b2 = static_cast<float>(1.0 - opt_.beta2);
  const double bc1     = 1.0 - std::pow(opt_.beta1, t);
  const double bc2     = 1.0 - std::pow(opt_.beta2, t);
  const float neg_step = static_cast<float>(-(lr / bc1));
  const float bc2_sqrt = static_cast<float>(std::sqrt(bc2));
  const float eps      = static_cast<float>(opt_.eps);
  fused_pass(p.grad.data(), begin, end, fused.grad_sq, fused.zero_grads, [=](int64_t i, float g) {
    w[i]        = w[i] * decay;                  // decoupled weight decay
    m[i]        = m[i] * b1 + one_minus_b1 * g;  // exp_avg.mul_(b1).add_(g, alpha=1-b1)
    v[i]        = v[i] * b2 + one_minus_b2 * (g * g);
    float denom = std::sqrt(v[i]) / bc2_sqrt + eps;  // eps after the bias-corrected sqrt
    w[i]        = w[i] + neg_step * (m[i] / denom);
  });
}

std::unique_ptr<Optimizer> make_optimizer(const std::string& kind, std::vector<Param*> params,
                                          const SgdOptions& sgd, const AdamWOptions& adamw) {
  if (kind == "sgd") return std::make_unique<Sgd>(std::move(params), sgd);
  if (kind == "adamw") return std::make_unique<AdamW>(std::move(params), adamw);
  PX_USER_FAIL("unknown optimizer '{}'; use sgd or adamw", kind);
}

}  // namespace paraxis
