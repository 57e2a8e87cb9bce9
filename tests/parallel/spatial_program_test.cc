// Domain parallelism, one step, one program: the cost model prices the list the engine runs under sp (dp2 x
// sp2 and sp2), its predicted trace holds each member's halo exchanges, layout changes and (--sp-fc model)
// FC shards' all-reduces where the measured one does (the same HALO, LAYOUT and in-pass ALLREDUCE events
// inside the same actions), and `analyze` reads a real sp2 run's trace as a domain-parallel layout whose
// exchanges are communication.
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

EngineConfig config(int dp, int sp, SpFc fc = SpFc::kBatch) {
  EngineConfig cfg;
  cfg.grid     = Grid{dp, 1, 1, sp};
  cfg.schedule = {pipeline::ScheduleKind::k1F1B, 1, 1, 1};
  cfg.sp_fc    = fc;
  return cfg;
}

// One step of the layout on threads, traced: every device's events and grid coordinates.
trace::TraceSet run_step(int dp, int sp, int64_t batch, SpFc fc = SpFc::kBatch) {
  const EngineConfig cfg = config(dp, sp, fc);
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

cost::PredictedStep predict(int dp, int sp, int64_t batch, SpFc fc = SpFc::kBatch) {
  cost::Layout l;
  l.dp = dp, l.sp = sp, l.optimizer = "sgd";
  l.sp_fc_model = fc == SpFc::kModel;
  return cost::predict_step(cost::describe_model(kSpec), l, batch, cost::hardware_preset("cpu-this-machine"));
}

// Per action index of the device's list: how many events of `kind` it holds on the compute track (inside a
// pass: the in-pass exchanges).
std::map<int, int> per_action(const std::vector<trace::Event>& events, trace::Kind kind) {
  std::map<int, int> out;
  for (const trace::Event& e : events)
    if (e.kind == kind && e.track == trace::Track::kCompute) ++out[e.action];
  return out;
}

// The same on the comm track, for the step list's actions (not the loss's all-reduce, outside them): the dp
// buckets' all-reduces, and under --sp-fc model each conv block's gradient sum over sp once final.
// GRAD_NORM's all-reduce of the shards' squares is priced in that action's time, not drawn: left out.
std::map<int, int> comm_per_action(const std::vector<trace::Event>& events, trace::Kind kind,
                                   const std::vector<pipeline::Action>& list) {
  std::map<int, int> out;
  for (const trace::Event& e : events)
    if (e.kind == kind && e.track != trace::Track::kCompute && e.action >= 0 &&
        list.at(e.action).kind != pipeline::ActionKind::kGradNorm)
      ++out[e.action];
  return out;
}

int count(const std::map<int, int>& per) {
  int n = 0;
  for (auto [action, k] : per) n += k;
  return n;
}

TEST(SpatialProgram, ThePredictionPricesTheEnginesListAndItsExchanges) {
  struct Case {
    int dp, sp;
    SpFc fc;
    int halos, layouts, fc_allreduces;  // per device and step
    int comm_allreduces;                // dp buckets (dp2), conv1 and conv2's sums over sp (model)
  };
  // conv2 and pool2 exchange halos forward and back; the flatten's layout change is an exchange both ways
  // (batch) or an all-gather forward only (model), after which fc2's output (F) and fc1's input gradient
  // (B) are all-reduced over sp.
  for (const Case& c : {Case{1, 2, SpFc::kBatch, 4, 2, 0, 1}, Case{2, 2, SpFc::kBatch, 4, 2, 0, 1},
                        Case{1, 2, SpFc::kModel, 4, 1, 2, 2}, Case{2, 2, SpFc::kModel, 4, 1, 2, 3}}) {
    SCOPED_TRACE(testing::Message() << "dp" << c.dp << " sp" << c.sp << " fc " << sp_fc_name(c.fc));
    const int64_t batch           = 8 * c.dp;
    const cost::PredictedStep p   = predict(c.dp, c.sp, batch, c.fc);
    const trace::TraceSet runtime = run_step(c.dp, c.sp, batch, c.fc);
    EXPECT_EQ(pipeline::format_schedule_text(p.schedule),
              pipeline::format_schedule_text(plan_step(kSpec, config(c.dp, c.sp, c.fc)).schedule));
    ASSERT_EQ(p.trace.num_devices(), c.dp * c.sp);
    for (int d = 0; d < c.dp * c.sp; ++d) {
      SCOPED_TRACE(testing::Message() << "device " << d);
      for (trace::Kind k : {trace::Kind::kHalo, trace::Kind::kLayout, trace::Kind::kAllReduce})
        EXPECT_EQ(per_action(p.trace.events[d], k), per_action(runtime.events[d], k)) << trace::kind_name(k);
      const auto& list = p.schedule.actions[p.trace.devices[d].pp];
      EXPECT_EQ(comm_per_action(p.trace.events[d], trace::Kind::kAllReduce, list),
                comm_per_action(runtime.events[d], trace::Kind::kAllReduce, list));
      EXPECT_EQ(count(comm_per_action(runtime.events[d], trace::Kind::kAllReduce, list)), c.comm_allreduces);
      EXPECT_EQ(count(per_action(runtime.events[d], trace::Kind::kHalo)), c.halos);
      EXPECT_EQ(count(per_action(runtime.events[d], trace::Kind::kLayout)), c.layouts);
      EXPECT_EQ(count(per_action(runtime.events[d], trace::Kind::kAllReduce)), c.fc_allreduces);
      EXPECT_EQ(p.trace.devices[d].sp, runtime.devices[d].sp);
    }
  }
}

TEST(SpatialProgram, AnalyzeCountsARealSp2RunsExchangesAsCommunication) {
  const trace::TraceSet set = run_step(1, 2, 8);
  const trace::Analysis a   = trace::analyze(set);
  EXPECT_EQ(a.kind, "domain parallel");
  // conv2 and pool2 exchange halos forward and back, flatten changes the layout both ways
  // (spatial_trace_test.cc): 4 HALO and 2 LAYOUT events per device per step.
  EXPECT_DOUBLE_EQ(a.halo_events, 4);
  EXPECT_DOUBLE_EQ(a.layout_events, 2);
  EXPECT_GT(a.halo_bytes, 0);
  EXPECT_GT(a.layout_bytes, 0);
  EXPECT_NE(trace::format_analysis(a).find("4.0 HALO (halo exchanges) and 2.0 LAYOUT events"),
            std::string::npos)
      << trace::format_analysis(a);
  for (const trace::DeviceUsage& u : a.devices) {
    int64_t exchange_ns = 0;
    for (const trace::Event& e : set.events[u.info.device])
      if (e.kind == trace::Kind::kHalo || e.kind == trace::Kind::kLayout) exchange_ns += e.duration_ns();
    EXPECT_GE(u.comm_total_ns, exchange_ns) << u.info.label();  // every exchange counted as communication
  }
  EXPECT_EQ(a.verdict.rfind("domain parallel: ", 0), 0u) << a.verdict;
  // The prediction of the same layout: its members compute together by construction.
  const trace::Analysis predicted = trace::analyze(predict(1, 2, 8).trace);
  EXPECT_EQ(predicted.kind, a.kind);
  EXPECT_TRUE(predicted.parallel) << predicted.verdict;
}

}  // namespace
}  // namespace paraxis
