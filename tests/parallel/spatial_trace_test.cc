// The trace of a spatial layout shows its halo exchanges: HALO events with their bytes, nested in the F or B
// action that waited for them, one per exchange that moved rows.
#include <gtest/gtest.h>

#include <mutex>

#include "parallel/equivalence_util.h"
#include "paraxis/parallel/engine.h"
#include "paraxis/trace/recorder.h"

using namespace paraxis;

namespace {

TEST(SpatialTrace, HaloExchangesAreNestedInTheirPasses) {
  const ModelSpec spec = ModelSpec::cnn(4, 8, 16, 10);
  EngineConfig cfg;
  cfg.grid     = Grid{1, 1, 1, 2};
  cfg.schedule = {pipeline::ScheduleKind::k1F1B, 1, 1, 1};
  std::mutex mu;
  std::vector<int> halos(2, 0);
  run_devices(2, {}, [&](Communicator& world) {
    trace::Recorder rec(world.rank());
    Engine engine(spec, cfg, world, &rec);
    Tensor x, y;
    testing_util::make_batch(spec, 8, 0, x, y);
    engine.step(x, y, 0.05);
    std::lock_guard<std::mutex> lock(mu);
    for (const trace::Event& e : rec.events()) {
      if (e.kind != trace::Kind::kHalo) continue;
      ++halos[world.rank()];
      EXPECT_GT(e.bytes, 0);
      bool nested = false;
      for (const trace::Event& pass : rec.events())
        nested |= (pass.kind == trace::Kind::kForward || pass.kind == trace::Kind::kBackward) &&
                  pass.action == e.action && pass.t_begin_ns <= e.t_begin_ns && e.t_end_ns <= pass.t_end_ns;
      EXPECT_TRUE(nested) << "a HALO event outside its action's F or B";
    }
  });
  // conv2, pool2 and flatten exchange in F and in B; conv1 reads the whole image and pool1's 2x2 windows
  // never cross the 14-row slabs of 28 rows, so they move nothing.
  EXPECT_EQ(halos[0], 6);
  EXPECT_EQ(halos[1], 6);
}

}  // namespace
