#include <cmath>
#include <numbers>

#include "paraxis/core/error.h"
#include "paraxis/nn/optim.h"

namespace paraxis {

LrSchedule LrSchedule::constant(double lr) {
  PX_USER_CHECK(std::isfinite(lr) && lr >= 0, "learning rate {} must be finite and >= 0", lr);
  LrSchedule s;
  s.kind = Kind::kConstant;
  s.lr   = lr;
  return s;
}

LrSchedule LrSchedule::warmup_cosine(double lr, int64_t warmup, int64_t decay_steps, double min_lr) {
  PX_USER_CHECK(std::isfinite(lr) && lr >= 0, "learning rate {} must be finite and >= 0", lr);
  PX_USER_CHECK(min_lr >= 0 && min_lr <= lr, "min lr {} must be in [0, lr = {}]; lr / 10 is usual", min_lr,
                lr);
  PX_USER_CHECK(warmup >= 0, "warmup steps {} must be >= 0", warmup);
  PX_USER_CHECK(decay_steps > warmup,
                "lr decay steps {} must exceed the warmup steps {}; use the run's total "
                "steps",
                decay_steps, warmup);
  LrSchedule s;
  s.kind        = Kind::kWarmupCosine;
  s.lr          = lr;
  s.warmup      = warmup;
  s.decay_steps = decay_steps;
  s.min_lr      = min_lr;
  return s;
}

double LrSchedule::lr_at(int64_t step) const {
  if (kind == Kind::kConstant) return lr;
  // nanoGPT train.py get_lr(it).
  if (step < warmup) return lr * static_cast<double>(step + 1) / static_cast<double>(warmup + 1);
  if (step > decay_steps) return min_lr;
  double ratio = static_cast<double>(step - warmup) / static_cast<double>(decay_steps - warmup);
  double coeff = 0.5 * (1.0 + std::cos(std::numbers::pi * ratio));
  return min_lr + coeff * (lr - min_lr);
}

std::string LrSchedule::describe() const {
  if (kind == Kind::kConstant) return fmt::format("constant {}", lr);
  return fmt::format("warmup_cosine lr {} warmup {} decay {} min {}", lr, warmup, decay_steps, min_lr);
}

}  // namespace paraxis
