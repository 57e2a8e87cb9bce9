#include "paraxis/measure/fixed_costs.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>

#include "paraxis/comm/launch.h"
#include "paraxis/core/error.h"
#include "paraxis/cost/planner.h"
#include "paraxis/measure/calibration.h"
#include "paraxis/parallel/engine.h"

namespace paraxis::measure {

namespace {

struct TinyStep {
  int linears = 1, microbatches = 1;
  ModelSpec spec() const { return ModelSpec::mlp(std::vector<int64_t>(static_cast<size_t>(linears) + 1, 4)); }
  cost::Layout layout() const {
    cost::Layout l;
    l.microbatches = microbatches;
    l.optimizer    = "sgd";
    return l;
  }
};
constexpr std::array<TinyStep, 4> kTiny = {{{1, 1}, {4, 1}, {1, 8}, {4, 8}}};

// The median wall time of `steps` engine steps (after 5 warm-ups) of the tiny model on one device.
double median_step_seconds(const TinyStep& t, int steps) {
  double out = 0;
  run_devices(1, {}, [&](Communicator& world) {
    EngineConfig cfg;
    cfg.grid     = make_grid(1, 1, 1, 1);
    cfg.schedule = {pipeline::ScheduleKind::k1F1B, 1, t.microbatches};
    Engine engine(t.spec(), cfg, world);
    const Tensor x = Tensor::zeros({t.microbatches, 4});
    const Tensor y = Tensor::from_ints({t.microbatches}, std::vector<int32_t>(t.microbatches, 1));
    std::vector<double> times;
    for (int i = 0; i < steps + 5; ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      engine.step(x, y, 0.0);
      if (i >= 5)
        times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    out = median_value(times);
  });
  return out;
}

// The cost model's prediction of a tiny step with these overheads.
double predicted(const TinyStep& t, cost::HardwareProfile hw, double k, double a, double s) {
  hw.kernel_overhead_s = k, hw.action_overhead_s = a, hw.step_overhead_s = s;
  return cost::predict_step(cost::describe_model(t.spec()), t.layout(), t.microbatches, hw, false).step_s;
}

// Least squares of A·x = b over x ≥ 0 for three unknowns: the unconstrained solution, else the best with
// one or two of them held at 0.
std::array<double, 3> nonnegative_least_squares(const std::array<std::array<double, 3>, 4>& A,
                                                const std::array<double, 4>& b) {
  std::array<double, 3> best{0, 0, 0};
  double best_err = 1e300;
  for (int mask = 1; mask < 8; ++mask) {
    // Normal equations over the free unknowns (Gaussian elimination on at most 3 × 3).
    std::array<std::array<double, 4>, 3> N{};
    std::array<int, 3> idx{};
    int n = 0;
    for (int j = 0; j < 3; ++j)
      if (mask & (1 << j)) idx[n++] = j;
    for (int r = 0; r < n; ++r) {
      for (int c = 0; c < n; ++c)
        for (int i = 0; i < 4; ++i) N[r][c] += A[i][idx[r]] * A[i][idx[c]];
      for (int i = 0; i < 4; ++i) N[r][3] += A[i][idx[r]] * b[i];
    }
    bool ok = true;
    for (int p = 0; p < n && ok; ++p) {
      ok = std::abs(N[p][p]) > 1e-30;
      for (int r = 0; r < n && ok; ++r)
        if (r != p) {
          const double f = N[r][p] / N[p][p];
          for (int c = 0; c < 4; ++c) N[r][c] -= f * N[p][c];
        }
    }
    std::array<double, 3> x{0, 0, 0};
    for (int r = 0; r < n && ok; ++r) x[idx[r]] = N[r][3] / N[r][r], ok = x[idx[r]] >= 0;
    if (!ok) continue;
    double err = 0;
    for (int i = 0; i < 4; ++i) {
      const double e = A[i][0] * x[0] + A[i][1] * x[1] + A[i][2] * x[2] - b[i];
      err += e * e;
    }
    if (err < best_err) best_err = err, best = x;
  }
  return best;
}

}  // namespace

std::vector<double> measure_tiny_steps(int steps) {
  std::vector<double> out;
  for (const TinyStep& t : kTiny) out.push_back(median_step_seconds(t, steps));
  return out;
}

FixedCosts solve_fixed_costs(const cost::HardwareProfile& hw, const std::vector<double>& tiny_steps) {
  PX_CHECK(tiny_steps.size() == kTiny.size(), "{} tiny step times, expected {}", tiny_steps.size(),
           kTiny.size());
  constexpr double unit = 1e-3;  // overheads of 1 ms make each count stand out of the tiny compute
  std::array<std::array<double, 3>, 4> A{};
  std::array<double, 4> b{};
  FixedCosts out;
  out.tiny_steps_s = tiny_steps;
  for (size_t i = 0; i < kTiny.size(); ++i) {
    const double base = predicted(kTiny[i], hw, 0, 0, 0);
    A[i]              = {(predicted(kTiny[i], hw, unit, 0, 0) - base) / unit,
                         (predicted(kTiny[i], hw, 0, unit, 0) - base) / unit,
                         (predicted(kTiny[i], hw, 0, 0, unit) - base) / unit};
    b[i]              = std::max(0.0, tiny_steps[i] - base);
  }
  const std::array<double, 3> x = nonnegative_least_squares(A, b);
  out.kernel_s = x[0], out.action_s = x[1], out.step_s = x[2];
  return out;
}

std::vector<double> predicted_tiny_steps(const cost::HardwareProfile& hw) {
  std::vector<double> out;
  for (const TinyStep& t : kTiny)
    out.push_back(predicted(t, hw, hw.kernel_overhead_s, hw.action_overhead_s, hw.step_overhead_s));
  return out;
}

FixedCosts measure_fixed_costs(const cost::HardwareProfile& hw, int steps) {
  return solve_fixed_costs(hw, measure_tiny_steps(steps));
}

std::string fixed_costs_summary(const FixedCosts& c) {
  return fmt::format("kernel call {:.3g} us, action {:.3g} us, step {:.3g} us (engine on tiny MLPs)",
                     c.kernel_s * 1e6, c.action_s * 1e6, c.step_s * 1e6);
}

}  // namespace paraxis::measure
