// Gradient clipping by global norm, as torch.nn.utils.clip_grad_norm_ (norm_type 2, torch 1.13).
#include <algorithm>
#include <cmath>

#include "paraxis/core/error.h"
#include "paraxis/nn/optim.h"

namespace paraxis {

double sum_of_squares(const float* x, int64_t n) {
  // Sixteen independent double lanes: the compiler keeps the order of a single running sum (no -ffast-math),
  // which chains every add on the previous one (~4 cycles per element, 20% of an MLP step); separate lanes
  // vectorise and run at memory speed, still in double.
  constexpr int kLanes = 16;
  double lane[kLanes]  = {};
  int64_t i            = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int k = 0; k < kLanes; ++k) lane[k] += static_cast<double>(x[i + k]) * x[i + k];
  double sum = 0;
  for (; i < n; ++i) sum += static_cast<double>(x[i]) * x[i];
  for (double v : lane) sum += v;
  return sum;
}

double grad_sq_norm(const std::vector<Param*>& params) {
  double sum = 0;
  for (const Param* p : params) sum += sum_of_squares(p->grad.data(), p->grad.numel());
  return sum;
}

float clip_coefficient(double total_norm, double max_norm) {
  // torch: clip_coef = max_norm / (total_norm + 1e-6) on a float32 tensor, clamped to at most 1.
  float coef = static_cast<float>(max_norm) / (static_cast<float>(total_norm) + 1e-6f);
  return std::min(coef, 1.0f);
}

void scale_grads(const std::vector<Param*>& params, float factor) {
  if (factor == 1.0f) return;  // x * 1.0f == x exactly; skip the pass
  for (Param* p : params) {
    float* g = p->grad.data();
    for (int64_t i = 0; i < p->grad.numel(); ++i) g[i] *= factor;
  }
}

float clip_grad_norm(const std::vector<Param*>& params, double max_norm) {
  PX_USER_CHECK(max_norm > 0 && std::isfinite(max_norm),
                "clip: max norm {} must be finite and > 0; 1.0 is usual", max_norm);
  double total = std::sqrt(grad_sq_norm(params));
  scale_grads(params, clip_coefficient(total, max_norm));
  return static_cast<float>(total);
}

}  // namespace paraxis
