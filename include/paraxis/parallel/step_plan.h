// paraxis/parallel/step_plan.h — a layout's whole-step schedule exactly as the Engine runs it, without
// running it: the stage cuts (the partitioner over Model::partition_costs), the blocks whose Linear weight
// gradients are deferred, every pipeline device's parameters (tp shards) in flat order and their gradient
// buckets. The Engine builds its step from it and `paraxis schedule --dp 2 --tp 2 ...` prints it.
//
//   EngineConfig cfg;  cfg.grid = make_grid(2, /*dp=*/2, 1, 1);
//   StepPlan plan = plan_step(ModelSpec::mlp({784, 256, 10}), cfg);
//   format_schedule_text(plan.schedule);   // "0: 0F0 0B0 REDUCE_GRAD0 OPT_STEP GRAD_NORM"
#pragma once

#include <vector>

#include "paraxis/nn/model.h"
#include "paraxis/parallel/engine.h"
#include "paraxis/pipeline/step.h"

namespace paraxis {

struct StepPlan {
  std::vector<int> cuts;                       // stage s holds blocks [cuts[s], cuts[s+1])
  std::vector<std::vector<Layer*>> deferring;  // per block of `model`: its layers deferring W (--defer-wgrad)
  pipeline::StepSpec spec;
  pipeline::Schedule schedule;  // pipeline::generate_step(spec): what every device runs, tail included
};

// model: a tensor-parallel shard of the whole model (every block present), as the device builds it; its
// deferring layers are switched to deferral. Throws user errors for layouts that do not fit the model.
StepPlan plan_step(const ModelSpec& spec, const EngineConfig& cfg, Model& model);
// The same with a shard built here for shapes only (no communicator): what `paraxis schedule` prints.
StepPlan plan_step(const ModelSpec& spec, const EngineConfig& cfg);

}  // namespace paraxis
