// The step's GRAD_NORM and OPT_STEP actions on one device: the global gradient norm (clipping with it, or
// only reporting it), the optimizer update and the zeroing of the gradients it used.
//
//   OptimStep os(make_optimizer("sgd", params, sgd, adamw), /*clip_norm=*/1.0, /*counted=*/...);
//   os.grad_norm(reduce);   // GRAD_NORM: Σ grad² of the counted parameters, all-reduced by `reduce`
//   os.update(lr);          // OPT_STEP: clip by the norm, step
// Without clipping the list runs OPT_STEP first: the fused update (Optimizer::step_fused) computes the
// squares in its own pass over memory and GRAD_NORM then only reduces them.
#pragma once

#include <functional>
#include <memory>

#include "paraxis/nn/optim.h"

namespace paraxis {

class OptimStep {
 public:
  // counted(p): does p's Σ grad² belong to this device's share of the global norm (tp-replicated parameters
  // count on tp rank 0 only)? reduce(sq): the norm's all-reduces over the groups that split the gradient.
  using Counted = std::function<bool(const Param*)>;
  using Reduce  = std::function<double(double local_sq)>;

  OptimStep(std::unique_ptr<Optimizer> opt, double clip_norm, Counted counted);

  bool clips() const { return clip_norm_ > 0; }
  void grad_norm(const Reduce& reduce);
  void update(double lr);
  double norm() const { return norm_; }
  Optimizer& optimizer() { return *opt_; }

 private:
  std::unique_ptr<Optimizer> opt_;
  double clip_norm_;
  Counted counted_;
  double local_sq_ = 0, norm_ = 0;
  bool have_norm_ = false;  // GRAD_NORM ran before OPT_STEP this step
};

}  // namespace paraxis
