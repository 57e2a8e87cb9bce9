// The trace of a spatial layout shows its exchanges: HALO events (halo exchanges) and LAYOUT events (the
// layout change at flatten) with their bytes, nested in the F or B action that waited for them, one per
// exchange that moved rows; with --sp-fc model also the FC shards' all-reduces (ALLREDUCE, in-pass).
#include <gtest/gtest.h>

#include <map>
#include <mutex>

#include "parallel/equivalence_util.h"
#include "paraxis/parallel/engine.h"
#include "paraxis/trace/recorder.h"

using namespace paraxis;

namespace {

// Per device, the events of each kind inside a pass (compute track), each checked to nest in its action's F
// or B.
std::vector<std::map<trace::Kind, int>> in_pass_events(const ModelSpec& spec, SpFc fc) {
  EngineConfig cfg;
  cfg.grid     = Grid{1, 1, 1, 2};
  cfg.schedule = {pipeline::ScheduleKind::k1F1B, 1, 1, 1};
  cfg.sp_fc    = fc;
  std::mutex mu;
  std::vector<std::map<trace::Kind, int>> out(2);
  run_devices(2, {}, [&](Communicator& world) {
    trace::Recorder rec(world.rank());
    Engine engine(spec, cfg, world, &rec);
    Tensor x, y;
    testing_util::make_batch(spec, 8, 0, x, y);
    engine.step(x, y, 0.05);
    std::lock_guard<std::mutex> lock(mu);
    for (const trace::Event& e : rec.events()) {
      if (e.track != trace::Track::kCompute || trace::is_compute(e.kind)) continue;
      ++out[world.rank()][e.kind];
      EXPECT_GT(e.bytes, 0);
      bool nested = false;
      for (const trace::Event& pass : rec.events())
        nested |= (pass.kind == trace::Kind::kForward || pass.kind == trace::Kind::kBackward) &&
                  pass.action == e.action && pass.t_begin_ns <= e.t_begin_ns && e.t_end_ns <= pass.t_end_ns;
      EXPECT_TRUE(nested) << "a " << trace::kind_name(e.kind) << " event outside its action's F or B";
    }
  });
  return out;
}

TEST(SpatialTrace, HaloExchangesAndLayoutChangesAreNestedInTheirPasses) {
  const auto events = in_pass_events(ModelSpec::cnn(4, 8, 16, 10), SpFc::kBatch);
  // conv2 and pool2 exchange halos in F and in B; conv1 reads the whole image and pool1's 2x2 windows never
  // cross the 14-row slabs of 28 rows, so they move nothing. The flatten changes the layout in F and in B.
  for (int d = 0; d < 2; ++d) {
    EXPECT_EQ(events[d], (std::map<trace::Kind, int>{{trace::Kind::kHalo, 4}, {trace::Kind::kLayout, 2}}))
        << "device " << d;
  }
}

// --sp-fc model: the FC shards' all-reduces (fc2's output in F, fc1's input gradient in B) run on a
// communicator of their own, observed by the trace: ALLREDUCE events inside the passes, beside the halos
// and the flatten's all-gather (a LAYOUT event in F only).
TEST(SpatialTrace, ModelParallelFcShardsAllReducesAreTraced) {
  const auto events = in_pass_events(ModelSpec::cnn(4, 8, 16, 10), SpFc::kModel);
  for (int d = 0; d < 2; ++d) {
    EXPECT_EQ(events[d],
              (std::map<trace::Kind, int>{
                  {trace::Kind::kHalo, 4}, {trace::Kind::kLayout, 1}, {trace::Kind::kAllReduce, 2}}))
        << "device " << d;
  }
}

}  // namespace
