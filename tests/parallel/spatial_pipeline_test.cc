// Promise 2 for domain parallelism with pipeline stages (--sp with --pp, and --dp): each stage split over
// the same sp devices, a stage boundary inside the conv side a slab transfer between the members with the
// same sp coordinate (uneven row counts: 23 rows over 2), a boundary on the FC side a transfer of each
// member's share of the samples (or, with --sp-fc model, of the whole micro-batch). Every step's loss and the
// final parameters equal one device's to fp32 tolerance. And the cost model prices the same list with the
// same in-pass exchanges in the same actions as the runtime traces.
#include <gtest/gtest.h>

#include <map>
#include <memory>

#include "parallel/equivalence_util.h"
#include "paraxis/core/error.h"
#include "paraxis/cost/planner.h"
#include "paraxis/parallel/engine.h"
#include "paraxis/parallel/step_plan.h"
#include "paraxis/trace/recorder.h"

using namespace paraxis;
using namespace paraxis::testing_util;

namespace {

using pipeline::ScheduleKind;

// conv1 relu1 pool1 conv2 relu2 pool2 flatten fc1 relu3 fc2 on 2x23x19: 23 -> 11 -> 5 rows, split 12/11,
// 6/5, 3/2 over sp 2.
ModelSpec uneven_cnn() {
  ModelSpec s = ModelSpec::cnn(/*c1=*/3, /*c2=*/4, /*fc=*/12, /*classes=*/5);
  s.image     = {2, 23, 19};
  return s;
}

// Block costs that make the balanced partition cut two stages exactly before block `cut`.
std::vector<double> cut_before(int cut, int blocks) {
  std::vector<double> c(blocks);
  for (int b = 0; b < blocks; ++b) c[b] = b < cut ? 1.0 / cut : 1.0 / (blocks - cut);
  return c;
}

struct Case {
  const char* name;
  int dp, sp, pp, m;
  ScheduleKind kind;
  int cut;  // the second stage starts at this block (-1: the partitioner's own cuts)
  int64_t batch;
  SpFc fc          = SpFc::kBatch;
  int v            = 1;
  bool recompute   = false;
  bool defer_wgrad = false;
};

void check(const Case& c) {
  SCOPED_TRACE(c.name);
  const ModelSpec spec = uneven_cnn();
  EngineConfig one;
  one.grid               = Grid{1, 1, 1};
  one.schedule           = {ScheduleKind::k1F1B, 1, 1, 1};
  one.optim.sgd.momentum = 0.9;
  one.optim.clip_norm    = 1.0;
  const int steps        = 3;
  EngineConfig cfg       = one;
  cfg.grid               = Grid{c.dp, 1, c.pp, c.sp};
  cfg.schedule           = {c.kind, c.pp, c.m, c.v};
  cfg.bucket_mb          = 0.001;  // several buckets
  cfg.sp_fc              = c.fc;
  cfg.recompute          = c.recompute;
  cfg.defer_wgrad        = c.defer_wgrad;
  if (c.cut >= 0) cfg.block_costs = cut_before(c.cut, 10);
  validate_layout(spec, cfg, c.batch);
  if (c.cut >= 0) ASSERT_EQ(plan_step(spec, cfg).cuts, (std::vector<int>{0, c.cut, 10}));
  expect_same_run(train_layout(spec, one, steps, c.batch), train_layout(spec, cfg, steps, c.batch));
}

TEST(SpatialPipelineEquivalence, Sp2Pp2OneFOneBCutInsideTheConvSide) {
  // Stage 1 starts at conv2: its input halo comes from the slab stage 0's member sent.
  for (int m : {2, 3, 4})
    check({"sp2 x pp2 1f1b, cut before conv2", 1, 2, 2, m, ScheduleKind::k1F1B, 3, int64_t{2} * m});
  check({"sp2 x pp2 1f1b m2, cut before relu2", 1, 2, 2, 2, ScheduleKind::k1F1B, 4, 4});
  check({"sp2 x pp2 1f1b m3, cut before flatten", 1, 2, 2, 3, ScheduleKind::k1F1B, 6, 6});
}

TEST(SpatialPipelineEquivalence, Sp2Pp2OneFOneBCutOnTheFcSide) {
  // Stage 1 starts at fc1: each member sends its share of the samples after the layout change.
  for (int m : {2, 3, 4})
    check({"sp2 x pp2 1f1b, cut before fc1", 1, 2, 2, m, ScheduleKind::k1F1B, 7, int64_t{2} * m});
}

TEST(SpatialPipelineEquivalence, GPipeDp2Sp2Pp2AndModelParallelFcSide) {
  check({"sp2 x pp2 gpipe m2, cut before conv2", 1, 2, 2, 2, ScheduleKind::kGPipe, 3, 4});
  check({"dp2 x sp2 x pp2 1f1b m2, cut before conv2", 2, 2, 2, 2, ScheduleKind::k1F1B, 3, 8});
  // --sp-fc model: every member holds the whole micro-batch after flatten (here 3 samples, not divisible).
  check(
      {"sp2 x pp2 1f1b m2 fc model, cut before conv2", 1, 2, 2, 2, ScheduleKind::k1F1B, 3, 6, SpFc::kModel});
  check({"sp2 x pp2 1f1b m2 fc model, cut before fc2", 1, 2, 2, 2, ScheduleKind::k1F1B, 9, 6, SpFc::kModel});
}

TEST(SpatialPipelineEquivalence, ZeroBubbleInterleavedRecomputeAndDeferredWeightGradients) {
  check({"sp2 x pp2 zb-h1 m2, cut before conv2", 1, 2, 2, 2, ScheduleKind::kZBH1, 3, 4});
  check({"sp2 x pp2 interleaved-1f1b v2 m2", 1, 2, 2, 2, ScheduleKind::kInterleaved1F1B, -1, 4, SpFc::kBatch,
         2});
  check({"sp2 x pp2 1f1b m2 recompute, cut before conv2", 1, 2, 2, 2, ScheduleKind::k1F1B, 3, 4, SpFc::kBatch,
         1, true});
  check({"sp2 x pp2 1f1b m2 defer-wgrad, cut before fc1", 1, 2, 2, 2, ScheduleKind::k1F1B, 7, 4, SpFc::kBatch,
         1, false, true});
  check({"sp2 x pp2 1f1b m2 fc model defer-wgrad, cut before conv2", 1, 2, 2, 2, ScheduleKind::k1F1B, 3, 6,
         SpFc::kModel, 1, false, true});
}

// ---- the prediction prices the engine's list with the runtime's in-pass exchanges

std::map<int, int> per_action(const std::vector<trace::Event>& events, trace::Kind kind) {
  std::map<int, int> out;
  for (const trace::Event& e : events)
    if (e.kind == kind && e.track == trace::Track::kCompute) ++out[e.action];
  return out;
}

int count(const std::map<int, int>& per) {
  int n = 0;
  for (auto [action, k] : per) n += k;
  return n;
}

// One traced step on threads: every device's events.
std::vector<std::vector<trace::Event>> traced_step(const ModelSpec& spec, const EngineConfig& cfg,
                                                   int64_t batch) {
  const int n = cfg.grid.size();
  std::vector<std::unique_ptr<trace::Recorder>> recs(n);
  for (int r = 0; r < n; ++r) recs[r] = std::make_unique<trace::Recorder>(r);
  run_devices(n, {}, [&](Communicator& world) {
    Engine engine(spec, cfg, world, recs[world.rank()].get());
    Tensor x, y;
    make_batch(spec, batch, 0, x, y);
    engine.step(x, y, 0.05);
  });
  std::vector<std::vector<trace::Event>> out;
  for (auto& r : recs) out.emplace_back(r->events().begin(), r->events().end());
  return out;
}

TEST(SpatialPipelineProgram, ThePredictionHasTheRuntimesHalosAndLayoutChangesPerStage) {
  const ModelSpec spec = ModelSpec::cnn(4, 8, 16, 10);  // the partitioner's own cut (no block costs)
  for (SpFc fc : {SpFc::kBatch, SpFc::kModel}) {
    SCOPED_TRACE(sp_fc_name(fc));
    EngineConfig cfg;
    cfg.grid     = Grid{1, 1, 2, 2};
    cfg.schedule = {ScheduleKind::k1F1B, 2, 2, 1};
    cfg.sp_fc    = fc;
    cost::Layout l;
    l.pp = 2, l.sp = 2, l.microbatches = 2, l.schedule = ScheduleKind::k1F1B, l.optimizer = "sgd";
    l.sp_fc_model       = fc == SpFc::kModel;
    const int64_t batch = 8;
    const cost::PredictedStep p =
        cost::predict_step(cost::describe_model(spec), l, batch, cost::hardware_preset("cpu-this-machine"));
    const StepPlan plan = plan_step(spec, cfg);
    const auto runtime  = traced_step(spec, cfg, batch);
    EXPECT_EQ(p.stage_cuts, plan.cuts);
    EXPECT_EQ(pipeline::format_schedule_text(p.schedule), pipeline::format_schedule_text(plan.schedule));
    ASSERT_EQ(p.trace.num_devices(), 4);
    int halos = 0, layouts = 0;
    for (int d = 0; d < 4; ++d) {
      SCOPED_TRACE(testing::Message() << "device " << d);
      for (trace::Kind k : {trace::Kind::kHalo, trace::Kind::kLayout, trace::Kind::kAllReduce})
        EXPECT_EQ(per_action(p.trace.events[d], k), per_action(runtime[d], k)) << trace::kind_name(k);
      halos += count(per_action(runtime[d], trace::Kind::kHalo));
      layouts += count(per_action(runtime[d], trace::Kind::kLayout));
    }
    // conv2 and pool2 exchange halos forward and back on each member, flatten changes the layout (both ways
    // for batch, an all-gather forward for model), in whichever stage holds them, for each of 2
    // micro-batches.
    EXPECT_EQ(halos, 2 * 2 * 4);
    EXPECT_EQ(layouts, 2 * 2 * (fc == SpFc::kModel ? 1 : 2));
  }
}

TEST(SpatialPipeline, TensorParallelismIsRefusedNamingSpFcModel) {
  EngineConfig cfg;
  cfg.grid     = Grid{1, 2, 1, 2};
  cfg.schedule = {ScheduleKind::k1F1B, 1, 1, 1};
  try {
    validate_layout(ModelSpec::cnn(), cfg, 8);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kUser);
    EXPECT_NE(std::string(e.what()).find("--sp 2 with --tp 2 is not supported"), std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("--sp-fc model"), std::string::npos) << e.what();
  }
}

}  // namespace
