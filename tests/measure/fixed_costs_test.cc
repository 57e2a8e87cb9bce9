// The runtime's fixed costs: how the cost model charges them (per compute action, per step, per kernel call)
// and how the calibration recovers them from the four tiny steps (measure/fixed_costs.h).
#include "paraxis/measure/fixed_costs.h"

#include <gtest/gtest.h>

#include <cmath>

#include "paraxis/cost/planner.h"

using namespace paraxis;

namespace {

cost::HardwareProfile quiet_profile() {
  cost::HardwareProfile hw = cost::hardware_preset("cpu-this-machine");
  hw.kernel_overhead_s = hw.action_overhead_s = hw.step_overhead_s = 0;
  return hw;
}

double step_s(const cost::HardwareProfile& hw, const cost::Layout& l, int64_t batch) {
  return cost::predict_step(cost::describe_model(ModelSpec::mlp({16, 8, 4})), l, batch, hw, false).step_s;
}

}  // namespace

TEST(FixedCosts, EachComputeActionAndEachStepPaysItsOverheadOnce) {
  const cost::HardwareProfile base = quiet_profile();
  cost::Layout l;
  l.microbatches           = 4;  // one device: 4 F and 4 B actions, then the optimizer step
  cost::HardwareProfile hw = base;
  hw.action_overhead_s     = 1e-3;
  EXPECT_NEAR(step_s(hw, l, 8) - step_s(base, l, 8), 8e-3, 1e-9);
  hw                 = base;
  hw.step_overhead_s = 1e-3;
  EXPECT_NEAR(step_s(hw, l, 8) - step_s(base, l, 8), 1e-3, 1e-9);
}

TEST(FixedCosts, APipelineChargesTheActionsOfItsCriticalPath) {
  const cost::HardwareProfile base = quiet_profile();
  cost::Layout l{.dp = 1, .tp = 1, .pp = 2, .schedule = pipeline::ScheduleKind::k1F1B, .microbatches = 8};
  cost::HardwareProfile hw = base;
  hw.action_overhead_s     = 1e-3;
  // 1F1B on 2 stages, 8 micro-batches, overheads only: (m + p − 1) forward and backward slots.
  EXPECT_NEAR(step_s(hw, l, 16) - step_s(base, l, 16), 18e-3, 1e-4);
}

TEST(FixedCosts, TheSolveRecoversKnownOverheadsFromTheTinySteps) {
  const cost::HardwareProfile base = quiet_profile();
  cost::HardwareProfile known      = base;
  known.kernel_overhead_s          = 3e-6;
  known.action_overhead_s          = 7e-6;
  known.step_overhead_s            = 40e-6;
  const measure::FixedCosts c      = measure::solve_fixed_costs(base, measure::predicted_tiny_steps(known));
  EXPECT_NEAR(c.kernel_s, 3e-6, 1e-9);
  EXPECT_NEAR(c.action_s, 7e-6, 1e-9);
  EXPECT_NEAR(c.step_s, 40e-6, 1e-9);
}

TEST(FixedCosts, NeverNegative) {
  // Tiny steps faster than the compute alone (timing noise) give zero overheads, not negative ones.
  const cost::HardwareProfile base = quiet_profile();
  const measure::FixedCosts c      = measure::solve_fixed_costs(base, {0, 0, 0, 0});
  EXPECT_EQ(c.kernel_s, 0);
  EXPECT_EQ(c.action_s, 0);
  EXPECT_EQ(c.step_s, 0);
}

TEST(FixedCosts, MeasuredOnTheEngineAreFiniteAndNotNegative) {
  const measure::FixedCosts c = measure::measure_fixed_costs(quiet_profile(), 5);
  ASSERT_EQ(c.tiny_steps_s.size(), 4u);
  for (double t : c.tiny_steps_s) EXPECT_GT(t, 0);
  for (double x : {c.kernel_s, c.action_s, c.step_s}) EXPECT_TRUE(std::isfinite(x) && x >= 0) << x;
}
