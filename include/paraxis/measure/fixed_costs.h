// The runtime's fixed costs — what a step costs besides its flops and bytes: each kernel call's dispatch,
// each action the engine interprets, each step's loss, optimizer launch and bookkeeping. Measured by running
// the engine itself on MLPs too small to compute (4 features, one row per micro-batch): 1 and 4 Linear
// layers, 1 and 8 micro-batches, the median step of each. The cost model prices those four tiny steps as
// T0 + k·N_kernel + a·N_action + s·N_step (its own counts, from predict_step with unit overheads), and
// (k, a, s) are the least-squares non-negative solution. Nothing here sees the model being predicted: the
// same three figures serve every layout and model (docs/cost-model.md, Fixed costs).
//
//   FixedCosts c = measure_fixed_costs(hw);     // ~0.3 s
//   hw.kernel_overhead_s = c.kernel_s, hw.action_overhead_s = c.action_s, hw.step_overhead_s = c.step_s;
#pragma once

#include <string>
#include <vector>

#include "paraxis/cost/hardware.h"

namespace paraxis::measure {

struct FixedCosts {
  double kernel_s = 0, action_s = 0, step_s = 0;
  std::vector<double> tiny_steps_s;  // the four measured tiny steps (median of each), for the record
};

// The four tiny steps' median times (one device, `steps` steps each after warm-ups).
std::vector<double> measure_tiny_steps(int steps = 40);
// (k, a, s) from the four times; `hw`: the profile whose (tiny) compute rates price the four steps (its
// overheads are ignored).
FixedCosts solve_fixed_costs(const cost::HardwareProfile& hw, const std::vector<double>& tiny_steps);
// The cost model's times of the four tiny steps with `hw`'s overheads (what the solve matches).
std::vector<double> predicted_tiny_steps(const cost::HardwareProfile& hw);
FixedCosts measure_fixed_costs(const cost::HardwareProfile& hw, int steps = 40);  // both of the above

std::string fixed_costs_summary(const FixedCosts& c);  // "kernel call 3.1 us, action 6.2 us, step 41 us"

}  // namespace paraxis::measure
