// Lowered schedules and their stash counts, generated once per (kind, pp, m, v) and shared by every layout of
// a plan that differs only in micro-batch size, ZeRO or recompute (private to src/cost).
#pragma once

#include <map>
#include <tuple>
#include <vector>

#include "paraxis/cost/planner.h"
#include "paraxis/cost/spatial.h"
#include "paraxis/pipeline/action.h"

namespace paraxis::cost {

struct CachedSchedule {
  pipeline::Schedule lowered;
  pipeline::Schedule lowered_recompute;  // with an R before every backward (Layout::recompute)
  pipeline::Schedule compute;            // the F/B/W lists before lowering (what the memory model walks)
};

class ScheduleCache {
 public:
  const CachedSchedule& get(pipeline::ScheduleKind kind, int pp, int m, int v);
  // Domain parallelism's pricing of `model` (one model per cache) at sp and this micro-batch, built once:
  // it builds each member's spatial model (spatial.cc).
  const SpatialPricing& spatial(const ModelDesc& model, int sp, int64_t micro_batch,
                                const HardwareProfile& hw, SpFc fc = SpFc::kBatch);

 private:
  std::map<std::tuple<int, int, int, int>, CachedSchedule> cache_;
  std::map<std::tuple<int, int64_t, int>, SpatialPricing> spatial_;  // (sp, micro-batch, SpFc)
};

PredictedStep predict_with(const ModelDesc& model, const Layout& layout, int64_t global_batch,
                           const HardwareProfile& hw, ScheduleCache& cache, bool record_trace);

}  // namespace paraxis::cost
