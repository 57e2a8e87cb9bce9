// Domain parallelism, one step, one program: the cost model prices the list the engine runs under sp (dp2 x
// sp2 and sp2), its predicted trace holds each member's halo exchanges and layout changes where the measured
// one does (the same HALO events inside the same actions), and `analyze` reads a real sp2 run's trace as a
// domain-parallel layout whose exchanges are communication.
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <mutex>

#include "parallel/equivalence_util.h"
#include "paraxis/cost/planner.h"
#include "paraxis/parallel/engine.h"
#include "paraxis/parallel/step_plan.h"
#include "paraxis/trace/analysis.h"
#include "paraxis/trace/recorder.h"

namespace paraxis {
namespace {

const ModelSpec kSpec = ModelSpec::cnn(4, 8, 16, 10);

EngineConfig config(int dp, int sp) {
  EngineConfig cfg;
  cfg.grid     = Grid{dp, 1, 1, sp};
  cfg.schedule = {pipeline::ScheduleKind::k1F1B, 1, 1, 1};
  return cfg;
}

// One step of the layout on threads, traced: every device's events and grid coordinates.
trace::TraceSet run_step(int dp, int sp, int64_t batch) {
  const EngineConfig cfg = config(dp, sp);
  const int n            = dp * sp;
  std::vector<std::unique_ptr<trace::Recorder>> recs(n);
  for (int r = 0; r < n; ++r) recs[r] = std::make_unique<trace::Recorder>(r);
  run_devices(n, {}, [&](Communicator& world) {
    trace::Recorder& rec = *recs[world.rank()];
    Engine engine(kSpec, cfg, world, &rec);
    Tensor x, y;
    testing_util::make_batch(kSpec, batch, 0, x, y);
    rec.step_begin();
    engine.step(x, y, 0.05);
    rec.step_end();
  });
  std::vector<trace::Recorder*> ptrs;
  std::vector<trace::DeviceInfo> infos;
  for (int r = 0; r < n; ++r) {
    const Coord c = cfg.grid.coord(r);
    ptrs.push_back(recs[r].get());
    infos.push_back({r, c.dp, c.tp, c.pp, c.sp});
  }
  trace::TraceSet set = trace::collect(ptrs, infos, cfg.grid.describe());
  set.layout_info     = {.dp = dp, .sp = sp, .schedule = "1f1b", .known = true};
  return set;
}

cost::PredictedStep predict(int dp, int sp, int64_t batch) {
  cost::Layout l;
  l.dp = dp, l.sp = sp, l.optimizer = "sgd";
  return cost::predict_step(cost::describe_model(kSpec), l, batch, cost::hardware_preset("cpu-this-machine"));
}

// Per action index of the device's list: how many HALO events it holds.
std::map<int, int> halos_per_action(const std::vector<trace::Event>& events) {
  std::map<int, int> out;
  for (const trace::Event& e : events)
    if (e.kind == trace::Kind::kHalo) ++out[e.action];
  return out;
}

TEST(SpatialProgram, ThePredictionPricesTheEnginesListAndItsExchanges) {
  for (auto [dp, sp] : {std::pair{1, 2}, std::pair{2, 2}}) {
    SCOPED_TRACE(testing::Message() << "dp" << dp << " sp" << sp);
    const int64_t batch           = 8 * dp;
    const cost::PredictedStep p   = predict(dp, sp, batch);
    const trace::TraceSet runtime = run_step(dp, sp, batch);
    EXPECT_EQ(pipeline::format_schedule_text(p.schedule),
              pipeline::format_schedule_text(plan_step(kSpec, config(dp, sp)).schedule));
    ASSERT_EQ(p.trace.num_devices(), dp * sp);
    for (int d = 0; d < dp * sp; ++d) {
      EXPECT_EQ(halos_per_action(p.trace.events[d]), halos_per_action(runtime.events[d])) << "device " << d;
      EXPECT_EQ(p.trace.devices[d].sp, runtime.devices[d].sp);
    }
  }
}

TEST(SpatialProgram, AnalyzeCountsARealSp2RunsExchangesAsCommunication) {
  const trace::TraceSet set = run_step(1, 2, 8);
  const trace::Analysis a   = trace::analyze(set);
  EXPECT_EQ(a.kind, "domain parallel");
  // conv2, pool2 and flatten exchange forward and back (spatial_trace_test.cc): 6 per device per step.
  EXPECT_DOUBLE_EQ(a.halo_events, 6);
  EXPECT_GT(a.halo_bytes, 0);
  for (const trace::DeviceUsage& u : a.devices) {
    int64_t halo_ns = 0;
    for (const trace::Event& e : set.events[u.info.device])
      if (e.kind == trace::Kind::kHalo) halo_ns += e.duration_ns();
    EXPECT_GE(u.comm_total_ns, halo_ns) << u.info.label();  // every exchange counted as communication
  }
  EXPECT_EQ(a.verdict.rfind("domain parallel: ", 0), 0u) << a.verdict;
  // The prediction of the same layout: its members compute together by construction.
  const trace::Analysis predicted = trace::analyze(predict(1, 2, 8).trace);
  EXPECT_EQ(predicted.kind, a.kind);
  EXPECT_TRUE(predicted.parallel) << predicted.verdict;
}

}  // namespace
}  // namespace paraxis
