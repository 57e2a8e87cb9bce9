#include "parallel/optim_step.h"

#include <cmath>

#include "paraxis/core/error.h"

namespace paraxis {

OptimStep::OptimStep(std::unique_ptr<Optimizer> opt, double clip_norm, Counted counted)
    : opt_(std::move(opt)), clip_norm_(clip_norm), counted_(std::move(counted)) {}

void OptimStep::grad_norm(const Reduce& reduce) {
  if (clips()) {  // before the update: read the gradients once for their squares
    local_sq_ = 0;
    for (Param* p : opt_->params())
      if (counted_(p)) local_sq_ += sum_of_squares(p->grad.data(), p->grad.numel());
    have_norm_ = true;
  }
  norm_ = reduce(local_sq_);
}

void OptimStep::update(double lr) {
  if (clips()) {
    PX_CHECK(have_norm_, "OPT_STEP with clipping needs GRAD_NORM before it in the step's list");
    have_norm_       = false;
    const float coef = clip_coefficient(norm_, clip_norm_);
    if (coef < 1.0f) scale_grads(opt_->params(), coef);
    opt_->step(lr);
    return;
  }
  std::vector<double> sq_each(opt_->params().size(), 0.0);
  opt_->step_fused(lr, /*zero_grads=*/true, &sq_each);
  local_sq_ = 0;
  for (size_t i = 0; i < sq_each.size(); ++i)
    if (counted_(opt_->params()[i])) local_sq_ += sq_each[i];
}

}  // namespace paraxis
