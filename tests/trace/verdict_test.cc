// The verdict names the layout's kind, what it achieved and why; the recommendation never repeats the layout.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <sstream>

#include "paraxis/trace/analysis.h"
#include "paraxis/trace/chrome_trace.h"
#include "paraxis/trace/synthetic.h"
#include "test_support/paths.h"
#include "test_support/recommendation.h"
#include "test_support/trace_events.h"

using namespace paraxis::trace;

namespace {

PipelineShape shape(int p, int m, double comm_ns = 0, std::vector<double> weights = {}) {
  PipelineShape s;
  s.stages       = p;
  s.microbatches = m;
  s.forward_ns   = 1e6;
  s.backward_ns  = 2e6;
  s.comm_ns      = comm_ns;
  s.stage_weight = std::move(weights);
  return s;
}

}  // namespace

TEST(Verdict, ImbalancedPipelineIsAPipelineWithStageImbalance) {
  Analysis a = analyze(synthetic_pipeline(shape(2, 8, 0, {3, 1})));
  EXPECT_EQ(a.kind, "pipeline (1F1B, m = 8)");
  EXPECT_EQ(a.cause, "stage imbalance");
  EXPECT_NEAR(a.stage_imbalance, 1.5, 1e-9);
  EXPECT_EQ(a.heaviest_stage, 0);
  EXPECT_EQ(a.verdict.find("workload partitioning"), std::string::npos) << a.verdict;
  EXPECT_NE(a.verdict.find("stage 0 holds 75.0% of the compute (imbalance 1.50x)"), std::string::npos)
      << a.verdict;
  EXPECT_EQ(a.recommendation.find("micro-batches with 1F1B"), std::string::npos) << a.recommendation;
  EXPECT_EQ(a.suggested_flags, "--dp 2 --pp 1 --microbatches 1");
}

TEST(Verdict, TransferBoundPipelineNamesTransfer) {
  Analysis a = analyze(synthetic_pipeline(shape(2, 8, 6e6)));
  EXPECT_EQ(a.cause, "transfer") << a.verdict;
  EXPECT_NEAR(a.transfer_ratio, 2.0, 0.05);
  EXPECT_NE(a.verdict.find("transfers per micro-batch take 2.0x the compute"), std::string::npos)
      << a.verdict;
  EXPECT_EQ(a.suggested_flags, "--microbatches 4");
}

TEST(Verdict, SerialPipelineSaysSoAndIsNeverWorkloadPartitioning) {
  // Stage 0 does nearly everything: the devices almost never compute together.
  Analysis a = analyze(synthetic_pipeline(shape(2, 8, 0, {20, 1})));
  EXPECT_FALSE(a.parallel);
  EXPECT_EQ(a.verdict.rfind("pipeline (1F1B, m = 8): ran nearly serially", 0), 0u) << a.verdict;
  EXPECT_EQ(a.cause, "stage imbalance");
}

TEST(Verdict, PlacementKeepsWorkloadPartitioning) {
  Analysis a = analyze(synthetic_pipeline(shape(2, 1)));
  EXPECT_EQ(a.kind, "workload partitioning");
  EXPECT_TRUE(a.layout_info.placement);
  EXPECT_EQ(a.verdict.rfind("workload partitioning: at most one device computed at a time", 0), 0u)
      << a.verdict;
}

// Data parallel whose all-reduces cannot hide: one bucket after the backward, longer than the backward.
TEST(Verdict, ExposedAllReduceIsTheCauseOfADataParallelLoss) {
  DataParallelShape s;
  s.buckets        = 1;
  s.allreduce_ns   = 10e6;
  const Analysis a = analyze(synthetic_data_parallel(s));
  EXPECT_EQ(a.kind, "data parallel");
  EXPECT_EQ(a.cause, "exposed collectives") << a.verdict;
  EXPECT_NE(a.verdict.find("communication not hidden behind compute"), std::string::npos) << a.verdict;
}

// The "one device will sit idle while it's waiting for data": stage 0 is slow to produce (it idles
// before each forward), so stage 1 sits in its receives. That is waiting, and the verdict says so.
TEST(Verdict, WaitingHeavyReceiveNamesWaiting) {
  TraceSet set;
  set.devices     = {{0, 0, 0, 0}, {1, 0, 0, 1}};
  set.layout_info = {.pp = 2, .m = 4, .schedule = "gpipe", .known = true};
  set.events.resize(2);
  int64_t t1 = 0;  // device 1's clock
  for (int j = 0; j < 4; ++j) {
    const int64_t f0 = 25 * j + 20;  // device 0 idles 20 before each forward
    Event f          = paraxis::testing::ev(Kind::kForward, f0, f0 + 4);
    f.stage = 0, f.microbatch = j;
    set.events[0].push_back(f);
    set.events[0].push_back(paraxis::testing::ev(Kind::kSend, f0 + 4, f0 + 5, 1, j));
    set.events[1].push_back(paraxis::testing::ev(Kind::kRecv, t1, f0 + 5, 0, j));
    Event g = paraxis::testing::ev(Kind::kForward, f0 + 5, f0 + 9);
    g.stage = 1, g.microbatch = j;
    set.events[1].push_back(g);
    t1 = f0 + 9;
  }
  const Analysis a = analyze(set);
  EXPECT_EQ(a.kind, "pipeline (GPipe, m = 4)");
  EXPECT_GT(a.devices[1].wait, 0.6);
  EXPECT_LT(a.devices[1].comm, 0.1);  // the transfers themselves are short
  EXPECT_EQ(a.cause, "waiting") << a.verdict;
  EXPECT_NE(a.verdict.find("devices waited"), std::string::npos) << a.verdict;
  EXPECT_FALSE(a.suggested_flags.empty());
}

TEST(Verdict, OneDeviceDataAndTensorParallelKeepTheirs) {
  EXPECT_EQ(analyze(synthetic_pipeline(shape(1, 1))).kind, "one device");
  Analysis dp = analyze(synthetic_data_parallel({}));
  EXPECT_EQ(dp.verdict.rfind("data parallel: two or more devices computed at the same time", 0), 0u)
      << dp.verdict;
  Analysis tp = analyze(synthetic_tensor_parallel({}));
  EXPECT_EQ(tp.verdict.rfind("tensor parallel: two or more devices computed at the same time", 0), 0u)
      << tp.verdict;
}

TEST(Verdict, LayoutComesFromMetadataElseTheLabel) {
  EXPECT_EQ(layout_kind(parse_layout_label("dp1 x tp1 x pp2, 1f1b m8"), 2), "pipeline (1F1B, m = 8)");
  EXPECT_EQ(layout_kind(parse_layout_label("dp1 tp1 pp2 gpipe m4 (predicted)"), 2),
            "pipeline (GPipe, m = 4)");
  EXPECT_EQ(layout_kind(parse_layout_label("placement on 2 devices (pp2, m1)"), 2), "workload partitioning");
  EXPECT_EQ(layout_kind(parse_layout_label("dp2 x tp1 x pp2, 1f1b m8"), 4), "dp2 x pipeline (1F1B, m = 8)");
  EXPECT_EQ(layout_kind(parse_layout_label("dp2 x tp2 x pp1, 1f1b m1"), 4), "dp2 x tp2");
  EXPECT_FALSE(parse_layout_label("my run").known);
  // A label that says nothing: the structured field decides, and survives the Chrome JSON round trip.
  TraceSet set        = synthetic_pipeline(shape(2, 8));
  set.layout          = "my run";
  set.layout_info     = {.pp = 2, .m = 8, .schedule = "gpipe", .known = true};
  const TraceSet back = from_chrome_json(to_chrome_json(set), "round trip");
  EXPECT_TRUE(back.layout_info.known);
  EXPECT_EQ(analyze(back).kind, "pipeline (GPipe, m = 8)");
}

TEST(Verdict, RecommendationNeverRepeatsTheCurrentLayout) {
  std::vector<TraceSet> sets = {synthetic_pipeline(shape(1, 1)),
                                synthetic_pipeline(shape(2, 1)),
                                synthetic_pipeline(shape(4, 1)),
                                synthetic_pipeline(shape(2, 8)),
                                synthetic_pipeline(shape(4, 8)),
                                synthetic_pipeline(shape(4, 4)),
                                synthetic_pipeline(shape(2, 8, 6e6)),
                                synthetic_pipeline(shape(2, 2, 6e6)),
                                synthetic_pipeline(shape(2, 8, 0, {3, 1})),
                                synthetic_pipeline(shape(2, 16, 0, {20, 1})),
                                synthetic_data_parallel({}),
                                synthetic_tensor_parallel({})};
  for (const TraceSet& set : sets) paraxis::testing::expect_recommendation_is_new(analyze(set));
}

// The same property on PyTorch's runs (tests/trace/fixtures/torch, scripts/torch-traces).
TEST(Verdict, RecommendationForAPyTorchRunNeverRepeatsItsLayout) {
  for (const char* run : {"placement", "gpipe", "ddp"}) {
    SCOPED_TRACE(run);
    const std::string dir = paraxis::testing::source_dir() + "/tests/trace/fixtures/torch/" + run;
    const std::vector<std::string> files = {dir + ".rank0.json", dir + ".rank1.json"};
    paraxis::testing::expect_recommendation_is_new(analyze(read_trace_run(files)));
  }
}

namespace {

// Two members of a spatial group (sp 2): each computes its slab's F then B at the same time as the other,
// with two exchanges blocking inside each pass (on the compute track, as the runtime records them): halos,
// and in the F the layout change (LAYOUT) at 60.
TraceSet domain_parallel(int64_t offset) {
  TraceSet set;
  set.layout      = "dp1 x tp1 x pp1 x sp2";
  set.layout_info = {.dp = 1, .tp = 1, .pp = 1, .sp = 2, .m = 1, .v = 1, .schedule = "1f1b", .known = true};
  for (int d = 0; d < 2; ++d) {
    const int64_t t = d * offset;
    set.devices.push_back({d, 0, 0, 0, d});
    std::vector<Event> evs = {paraxis::testing::ev(Kind::kForward, t, t + 100),
                              paraxis::testing::ev(Kind::kBackward, t + 100, t + 300)};
    for (int64_t at : {t + 20, t + 60, t + 150, t + 250}) {
      Event h = paraxis::testing::ev(at == t + 60 ? Kind::kLayout : Kind::kHalo, at, at + 10);
      h.track = Track::kCompute, h.bytes = 1000;
      evs.push_back(h);
    }
    set.events.push_back(evs);
  }
  set.steps = {{0, 300 + offset}};
  return set;
}

}  // namespace

TEST(Verdict, DomainParallelRunIsParallelWhenItsMembersComputeAtOnce) {
  const Analysis a = analyze(domain_parallel(0));
  EXPECT_EQ(a.kind, "domain parallel");
  EXPECT_TRUE(a.parallel);
  EXPECT_EQ(a.verdict.rfind("domain parallel: two or more devices computed at the same time", 0), 0u)
      << a.verdict;
  // The exchanges are communication: 4 × 10 ns of each 300 ns step (3 halos, 1 layout change), not compute.
  EXPECT_DOUBLE_EQ(a.halo_events, 3);
  EXPECT_DOUBLE_EQ(a.halo_ns, 30);
  EXPECT_DOUBLE_EQ(a.halo_bytes, 3000);
  EXPECT_DOUBLE_EQ(a.layout_events, 1);
  EXPECT_DOUBLE_EQ(a.layout_ns, 10);
  EXPECT_DOUBLE_EQ(a.layout_bytes, 1000);
  for (const DeviceUsage& u : a.devices) {
    EXPECT_EQ(u.busy_ns, 260) << u.info.label();
    EXPECT_EQ(u.comm_ns, 40) << u.info.label();
  }
  EXPECT_NE(a.devices[1].info.label().find("sp1"), std::string::npos);
  EXPECT_NE(format_analysis(a).find("3.0 HALO (halo exchanges) and 1.0 LAYOUT events"), std::string::npos)
      << format_analysis(a);
  paraxis::testing::expect_recommendation_is_new(a);
}

TEST(Verdict, DomainParallelMembersTakingTurnsAreToldToSplitTheBatch) {
  const Analysis a = analyze(domain_parallel(300));  // member 1 starts when member 0 has finished
  EXPECT_FALSE(a.parallel);
  EXPECT_EQ(a.suggested_flags, "--dp 2 --sp 1");
}

TEST(Verdict, SpSurvivesTheChromeTraceRoundTrip) {
  const TraceSet back = from_chrome_json(to_chrome_json(domain_parallel(0)), "round trip");
  EXPECT_EQ(back.layout_info.sp, 2);
  ASSERT_EQ(back.devices.size(), 2u);
  EXPECT_EQ(back.devices[1].sp, 1);
  EXPECT_EQ(analyze(back).kind, "domain parallel");
}
