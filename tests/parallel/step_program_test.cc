// One step, one program: for the demo's layouts and two compositions, the list plan_step generates is what
// every device ran (its measured trace holds events of every action of its list and of nothing else, the
// compute actions in list order) and what the cost model priced (predict_step's list is the same, and its
// predicted trace covers the same actions in the same order).
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "paraxis/cost/planner.h"
#include "paraxis/data/sources.h"
#include "paraxis/parallel/step_plan.h"
#include "paraxis/trace/analysis.h"
#include "paraxis/train/layout_run.h"
#include "test_support/recommendation.h"

namespace paraxis {
namespace {

struct Case {
  const char* name;
  int devices, dp, tp, pp, m;
  const char* schedule;
  bool placement, defer;
};

// The layouts of `paraxis demo` (1 device, placement, 1F1B m 8 with deferred W, tp2, dp2) and dp2 x pp2, pp2
// x tp2; the model is big enough for two 25 MB gradient buckets on one device.
const Case kCases[] = {
    {"one device", 1, 1, 1, 1, 1, "1f1b", false, false},   {"placement", 2, 1, 1, 2, 1, "gpipe", true, false},
    {"1f1b m8 defer", 2, 1, 1, 2, 8, "1f1b", false, true}, {"tp2", 2, 1, 2, 1, 1, "1f1b", false, false},
    {"dp2", 2, 2, 1, 1, 1, "1f1b", false, false},          {"dp2 x pp2", 4, 2, 1, 2, 2, "1f1b", false, false},
    {"pp2 x tp2", 4, 1, 2, 2, 4, "zb-h1", false, false},
};

LayoutRunConfig config_of(const Case& c) {
  LayoutRunConfig cfg;
  cfg.model = ModelSpec::mlp({64, 4096, 2048, 10});
  cfg.data  = std::make_shared<ClassificationDataset>(make_synthetic_classification(64, {64}, 10, 3, 1.0f));
  cfg.batch = 16, cfg.steps = 2, cfg.trace_steps = 2;
  cfg.devices = c.devices, cfg.dp = c.dp, cfg.tp = c.tp, cfg.pp = c.pp, cfg.microbatches = c.m;
  cfg.schedule = c.schedule, cfg.placement = c.placement, cfg.defer_wgrad = c.defer;
  return cfg;
}

// The engine's step for the case (run_layout: SGD with momentum, no clipping, 25 MB buckets).
StepPlan plan_of(const Case& c, const ModelSpec& spec) {
  EngineConfig e;
  e.grid        = Grid{c.dp, c.tp, c.pp};
  e.schedule    = {pipeline::parse_schedule_kind(c.schedule), c.pp, c.m, 1};
  e.defer_wgrad = c.defer;
  return plan_step(spec, e);
}

// The device's events of its last step: from its last start of action 0 on (a device runs its list in order,
// so the step before began earlier; run_layout's crop follows device 0's step marks instead).
std::vector<trace::Event> last_step(const std::vector<trace::Event>& events) {
  int64_t start = -1;
  for (const trace::Event& e : events)
    if (e.action == 0) start = std::max(start, e.t_begin_ns);
  std::vector<trace::Event> out;
  for (const trace::Event& e : events)
    if (e.t_begin_ns >= start) out.push_back(e);
  return out;
}

// Every action of `list` has an event and no event names anything else; compute events run in list order.
void expect_trace_runs_list(const std::vector<trace::Event>& all, const std::vector<pipeline::Action>& list,
                            const std::string& what) {
  const std::vector<trace::Event> events = last_step(all);
  std::set<int> seen;
  std::vector<std::pair<int64_t, int>> compute;
  for (const trace::Event& e : events) {
    if (e.action < 0) continue;
    ASSERT_LT(e.action, static_cast<int>(list.size())) << what;
    seen.insert(e.action);
    if (trace::is_compute(e.kind) && pipeline::is_compute(list[e.action].kind))
      compute.push_back({e.t_begin_ns, e.action});
  }
  for (int i = 0; i < static_cast<int>(list.size()); ++i)
    EXPECT_TRUE(seen.count(i)) << what << ": no event of " << pipeline::to_string(list[i]) << " (action " << i
                               << ")";
  std::stable_sort(compute.begin(), compute.end());
  for (size_t k = 1; k < compute.size(); ++k)
    EXPECT_LT(compute[k - 1].second, compute[k].second) << what << ": compute out of list order";
}

TEST(StepProgram, EveryDeviceRunsAndThePredictionPricesTheSameList) {
  for (const Case& c : kCases) {
    SCOPED_TRACE(c.name);
    const LayoutRunConfig cfg = config_of(c);
    const StepPlan plan       = plan_of(c, cfg.model);
    const LayoutRunResult r   = run_layout(cfg);
    ASSERT_EQ(r.trace.events.size(), static_cast<size_t>(c.devices));
    const Grid g{c.dp, c.tp, c.pp};
    for (int d = 0; d < c.devices; ++d)
      expect_trace_runs_list(r.trace.events[d], plan.schedule.actions[g.coord(d).pp],
                             fmt::format("measured device {}", d));

    cost::Layout l{.dp = c.dp, .tp = c.tp, .pp = c.pp};
    l.schedule     = pipeline::parse_schedule_kind(c.schedule);
    l.microbatches = c.m, l.defer_wgrad = c.defer, l.optimizer = "sgd";
    const cost::PredictedStep p = cost::predict_step(cost::describe_model(cfg.model), l, cfg.batch,
                                                     cost::hardware_preset("cpu-this-machine"));
    EXPECT_EQ(pipeline::format_schedule_text(p.schedule), pipeline::format_schedule_text(plan.schedule));
    ASSERT_EQ(p.trace.num_devices(), c.devices);  // every device, not one per pipeline rank
    for (int d = 0; d < c.devices; ++d) {
      EXPECT_EQ(p.trace.devices[d].pp, g.coord(d).pp);
      expect_trace_runs_list(p.trace.events[d], plan.schedule.actions[g.coord(d).pp],
                             fmt::format("predicted device {}", d));
    }
  }
}

// A tensor-parallel layer's collectives block the pass that calls them: each is recorded on the compute
// track inside its action's event, the two members of a call share a flow id, and the analysis counts that
// time as communication or waiting, not compute.
TEST(StepProgram, TensorParallelCollectivesAreRecordedInsideTheirPass) {
  const LayoutRunResult r = run_layout(config_of(kCases[3]));
  ASSERT_EQ(r.trace.num_devices(), 2);
  std::set<int64_t> flows[2];
  for (int d = 0; d < 2; ++d) {
    const std::vector<trace::Event>& evs = r.trace.events[d];
    for (const trace::Event& e : evs) {
      if (e.kind != trace::Kind::kAllReduce || e.track != trace::Track::kCompute) continue;
      flows[d].insert(e.flow_id);
      const bool nested = std::any_of(evs.begin(), evs.end(), [&](const trace::Event& c) {
        return trace::is_compute(c.kind) && c.action == e.action && c.t_begin_ns <= e.t_begin_ns &&
               e.t_end_ns <= c.t_end_ns;
      });
      EXPECT_TRUE(nested) << "device " << d << ": a tp all-reduce outside its action's pass";
    }
  }
  EXPECT_FALSE(flows[0].empty());
  EXPECT_EQ(flows[0], flows[1]);
  const trace::Analysis a = trace::analyze(r.trace);
  for (const trace::DeviceUsage& u : a.devices) EXPECT_GT(u.comm_ns + u.wait_ns, 0) << u.info.label();
}

// A predicted trace draws every device of the layout, and the analysis names it as it names the measured
// trace of the same layout (the kind; whether devices computed at once depends on this host's timing, so
// only the prediction's is checked: its replicas compute together by construction).
TEST(StepProgram, PredictedTracesDrawEveryDeviceAndGetTheMeasuredKind) {
  for (const Case& c : kCases) {
    SCOPED_TRACE(c.name);
    const LayoutRunConfig cfg = config_of(c);
    cost::Layout l{.dp = c.dp, .tp = c.tp, .pp = c.pp};
    l.schedule     = pipeline::parse_schedule_kind(c.schedule);
    l.microbatches = c.m, l.defer_wgrad = c.defer, l.optimizer = "sgd";
    const cost::PredictedStep p     = cost::predict_step(cost::describe_model(cfg.model), l, cfg.batch,
                                                         cost::hardware_preset("cpu-this-machine"));
    const trace::Analysis predicted = trace::analyze(p.trace);
    const trace::Analysis measured  = trace::analyze(run_layout(cfg).trace);
    paraxis::testing::expect_recommendation_is_new(predicted);
    paraxis::testing::expect_recommendation_is_new(measured);
    EXPECT_EQ(predicted.num_devices, c.devices);
    EXPECT_EQ(predicted.kind, measured.kind);
    if (c.dp * c.tp > 1) EXPECT_TRUE(predicted.parallel) << predicted.verdict;
  }
}

TEST(StepProgram, ScheduleOfAnyLayoutIsTheEnginesList) {
  // dp2 with two buckets: REDUCE_GRAD0 after the backward (fc3 and fc2's weight fill the first 25 MB), the
  // rest behind it; ZeRO-1 and clipping change the tail only.
  const ModelSpec spec = ModelSpec::mlp({64, 4096, 2048, 10});
  Case dp2             = kCases[4];
  EXPECT_EQ(pipeline::format_schedule_text(plan_of(dp2, spec).schedule),
            "0: 0F0 0B0 REDUCE_GRAD0 REDUCE_GRAD1 OPT_STEP GRAD_NORM\n");
  EngineConfig e;
  e.grid            = Grid{2, 1, 1};
  e.zero            = 1;
  e.optim.clip_norm = 1;
  EXPECT_EQ(pipeline::format_schedule_text(plan_step(spec, e).schedule),
            "0: 0F0 0B0 REDUCE_SCATTER GRAD_NORM OPT_STEP ALL_GATHER\n");
}

}  // namespace
}  // namespace paraxis
