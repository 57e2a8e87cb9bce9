#include "paraxis/trace/analysis.h"

#include <gtest/gtest.h>

#include "paraxis/core/error.h"
#include "paraxis/trace/synthetic.h"
#include "test_support/trace_events.h"

using namespace paraxis;
using namespace paraxis::trace;

namespace {

PipelineShape pipeline(int p, int m, const std::string& schedule = "1f1b", double comm_ns = 0) {
  PipelineShape s;
  s.stages       = p;
  s.microbatches = m;
  s.schedule     = schedule;
  s.forward_ns   = 1e6;
  s.backward_ns  = 2e6;
  s.comm_ns      = comm_ns;
  return s;
}

Event ev(Kind kind, int64_t begin, int64_t end) {
  Event e;
  e.kind       = kind;
  e.track      = default_track(kind);
  e.t_begin_ns = begin;
  e.t_end_ns   = end;
  return e;
}

}  // namespace

TEST(TraceAnalysis, PlacementIsWorkloadPartitioning) {
  const int p = 4;
  Analysis a  = analyze(synthetic_pipeline(pipeline(p, 1)));
  EXPECT_FALSE(a.parallel);
  EXPECT_EQ(a.verdict.rfind(
                "workload partitioning: at most one device computed at a time for 100.0% of the step", 0),
            0u)
      << a.verdict;
  EXPECT_DOUBLE_EQ(a.parallel_fraction, 0.0);
  EXPECT_DOUBLE_EQ(a.single_fraction, 1.0);  // free transfers: exactly one device computes at every instant
  EXPECT_DOUBLE_EQ(a.utilization, 1.0 / p);
  EXPECT_DOUBLE_EQ(a.bubble, 1.0 - 1.0 / p);
  for (const DeviceUsage& u : a.devices) EXPECT_DOUBLE_EQ(u.idle, 1.0 - 1.0 / p);
  EXPECT_EQ(a.pipeline_stages, p);
  EXPECT_EQ(a.microbatches, 1);
  // 1F1B with m = 4p micro-batches predicts m/(m+p−1) = 16/19.
  EXPECT_NE(a.recommendation.find("stream 16 micro-batches with 1F1B: utilization 25.0% → 84.2%"),
            std::string::npos)
      << a.recommendation;
  ASSERT_TRUE(a.speedup.has_value());
  EXPECT_NEAR(*a.speedup, 1.0, 1e-12);
}

TEST(TraceAnalysis, TwoStagePlacementRecommendsEightMicroBatches) {
  Analysis a = analyze(synthetic_pipeline(pipeline(2, 1)));
  EXPECT_NE(a.recommendation.find("stream 8 micro-batches with 1F1B: utilization 50.0% → 88.9%"),
            std::string::npos)
      << a.recommendation;
}

TEST(TraceAnalysis, PipelineBubbleMatchesClosedForm) {
  for (const char* schedule : {"1f1b", "gpipe"})
    for (int p : {2, 3, 4, 6})
      for (int m : {1, 2, 4, 8, 13}) {
        Analysis a            = analyze(synthetic_pipeline(pipeline(p, m, schedule)));
        const double expected = static_cast<double>(p - 1) / (m + p - 1);
        EXPECT_NEAR(a.bubble, expected, 1e-12) << schedule << " p=" << p << " m=" << m;
        EXPECT_EQ(a.microbatches, m);
        ASSERT_TRUE(a.speedup.has_value());
        EXPECT_NEAR(*a.speedup, static_cast<double>(m) * p / (m + p - 1), 1e-9);
        EXPECT_NEAR(a.critical_path.length_ns, a.step_ns, 1.0) << "the chain spans the step";
        EXPECT_EQ(a.critical_path.devices_visited, p);
      }
}

TEST(TraceAnalysis, OneFOneBIsParallel) {
  const int p = 4, m = 8;
  Analysis a = analyze(synthetic_pipeline(pipeline(p, m, "1f1b", 5e4)));
  EXPECT_TRUE(a.parallel);
  EXPECT_EQ(a.verdict.rfind("pipeline (1F1B, m = 8): two or more devices computed at the same time for ", 0),
            0u)
      << a.verdict;
  EXPECT_GT(a.parallel_fraction, a.single_fraction);
  // Transfers lengthen the step a little beyond the free-communication closed form, never shorten it.
  EXPECT_GT(a.bubble, static_cast<double>(p - 1) / (m + p - 1));
  EXPECT_LT(a.bubble, 0.35);
  // The recorded chain alternates compute and transfers: 2(p−1) sends and receives each on the fill and
  // drain.
  const CriticalPath& cp = a.critical_path;
  EXPECT_EQ(cp.compute_ns + cp.comm_ns + cp.wait_ns + cp.gap_ns, cp.length_ns);
  EXPECT_GT(cp.comm_ns, 0);
}

TEST(TraceAnalysis, PlacementCriticalPathIsTheWholeChain) {
  const int p            = 3;
  Analysis a             = analyze(synthetic_pipeline(pipeline(p, 1, "1f1b", 1e5)));
  const CriticalPath& cp = a.critical_path;
  EXPECT_EQ(cp.length_ns, a.window_end_ns - a.window_begin_ns);
  EXPECT_EQ(cp.compute_ns, p * 3'000'000);       // every F and B, one after another
  EXPECT_EQ(cp.comm_ns, 2 * (p - 1) * 100'000);  // each activation and gradient transfer
  EXPECT_EQ(cp.gap_ns, 0);
  int crossings = 0;
  for (const PathStep& s : cp.steps) crossings += s.cross_device;
  EXPECT_EQ(crossings, 2 * (p - 1));
}

TEST(TraceAnalysis, DataParallelOverlapAndWait) {
  DataParallelShape s;  // backward 8 ms in 4 buckets, each all-reduce 1 ms: the last one is exposed
  s.devices      = 2;
  s.forward_ns   = 4e6;
  s.backward_ns  = 8e6;
  s.buckets      = 4;
  s.allreduce_ns = 1e6;
  s.opt_ns       = 5e5;
  Analysis a     = analyze(synthetic_data_parallel(s));
  ASSERT_TRUE(a.overlap.has_value());
  EXPECT_DOUBLE_EQ(*a.overlap, 0.75);
  const double window = 13.5e6;
  EXPECT_DOUBLE_EQ(a.step_ns, window);
  EXPECT_DOUBLE_EQ(a.comm, 1e6 / window);  // blocked on the last bucket: exposed communication
  EXPECT_DOUBLE_EQ(a.wait, 0.0);           // the members entered each all-reduce together
  EXPECT_DOUBLE_EQ(a.utilization, 12.5e6 / window);
  EXPECT_TRUE(a.parallel);
  EXPECT_DOUBLE_EQ(a.parallel_fraction, 12.5e6 / window);
}

TEST(TraceAnalysis, TensorParallelCommunicationIsExposed) {
  TensorParallelShape s;
  s.devices           = 2;
  s.layers            = 3;
  s.forward_ns        = 1e6;
  s.backward_ns       = 2e6;
  s.allreduce_ns      = 5e5;
  Analysis a          = analyze(synthetic_tensor_parallel(s));
  const double window = 3 * (1e6 + 2e6) + 6 * 5e5;
  EXPECT_DOUBLE_EQ(a.step_ns, window);
  EXPECT_DOUBLE_EQ(a.comm, 3e6 / window);
  ASSERT_TRUE(a.overlap.has_value());
  EXPECT_DOUBLE_EQ(*a.overlap, 0.0);
  EXPECT_TRUE(a.parallel);
  EXPECT_EQ(a.cause, "exposed collectives") << a.verdict;
  EXPECT_EQ(a.suggested_flags, "--dp 2 --tp 1") << a.recommendation;  // same devices, the batch split
}

TEST(TraceAnalysis, WaitInsideReceiveCountsAsWaiting) {
  TraceSet set;
  set.devices = {{0, 0, 0, 0}};
  set.events  = {{ev(Kind::kRecv, 0, 10), ev(Kind::kWait, 0, 8), ev(Kind::kForward, 10, 20)}};
  Analysis a  = analyze(set);
  EXPECT_DOUBLE_EQ(a.devices[0].busy, 0.5);
  EXPECT_DOUBLE_EQ(a.devices[0].wait, 0.4);
  EXPECT_DOUBLE_EQ(a.devices[0].comm, 0.1);
  EXPECT_DOUBLE_EQ(a.devices[0].idle, 0.0);
}

// Device 1 posts its receive at 0; device 0 sends at 10 after computing: device 1 waited 10, the transfer
// itself took 2 (the "blocked in a receive, waiting for device 0's activations").
TEST(TraceAnalysis, ReceivePostedBeforeTheSendIsWaitingNotCommunication) {
  TraceSet set;
  set.devices      = {{0, 0, 0, 0}, {1, 0, 0, 1}};
  set.events       = {{ev(Kind::kForward, 0, 10), paraxis::testing::ev(Kind::kSend, 10, 11, 1, 0)},
                      {paraxis::testing::ev(Kind::kRecv, 0, 12, 0, 0), ev(Kind::kForward, 12, 20)}};
  const Analysis a = analyze(set);
  EXPECT_DOUBLE_EQ(a.devices[1].wait, 10.0 / 20);
  EXPECT_DOUBLE_EQ(a.devices[1].comm, 2.0 / 20);
  EXPECT_DOUBLE_EQ(a.devices[1].busy, 8.0 / 20);
  EXPECT_DOUBLE_EQ(a.devices[0].wait, 0.0);  // the receiver was there first: no wait on the sender
  EXPECT_DOUBLE_EQ(a.devices[0].comm, 1.0 / 20);
  const WaitingSpans w = waiting_spans(set);
  ASSERT_EQ(w[1].size(), 1u);
  EXPECT_EQ(w[1][0], (std::pair<int64_t, int64_t>{0, 10}));
  EXPECT_TRUE(w[0].empty());
  // The critical path F(d0) ⇒ RECV(d1) → F(d1) holds only the transfer's own time as communication.
  EXPECT_EQ(
      a.critical_path.comm_ns + a.critical_path.wait_ns + a.critical_path.compute_ns + a.critical_path.gap_ns,
      a.critical_path.length_ns);
  EXPECT_EQ(a.critical_path.compute_ns, 18);
}

// A blocking send whose receiver comes late waits on the sender's side, from its begin to the receive's.
TEST(TraceAnalysis, SendBlockedOnALateReceiverIsWaiting) {
  TraceSet set;
  set.devices = {{0, 0, 0, 0}, {1, 0, 0, 1}};
  set.events  = {
       {paraxis::testing::ev(Kind::kSend, 0, 9, 1, 0), ev(Kind::kForward, 9, 10)},
       {ev(Kind::kForward, 0, 6), paraxis::testing::ev(Kind::kRecv, 6, 9, 0, 0), ev(Kind::kForward, 9, 10)}};
  const Analysis a = analyze(set);
  EXPECT_DOUBLE_EQ(a.devices[0].wait, 6.0 / 10);
  EXPECT_DOUBLE_EQ(a.devices[0].comm, 3.0 / 10);
  EXPECT_DOUBLE_EQ(a.devices[1].wait, 0.0);
  EXPECT_DOUBLE_EQ(a.devices[1].comm, 3.0 / 10);
}

// Members of one collective (same kind and flow id) wait for the last to enter; the rest is communication.
// Calls that share no flow id with another device are communication throughout.
TEST(TraceAnalysis, CollectiveEnteredBeforeTheLastMemberIsWaiting) {
  auto call = [](int64_t b, int64_t e, int64_t flow) {
    Event x   = ev(Kind::kAllReduce, b, e);
    x.flow_id = flow;
    return x;
  };
  TraceSet set;
  set.devices      = {{0, 0, 0, 0}, {1, 1, 0, 0}};
  set.events       = {{ev(Kind::kForward, 0, 2), call(2, 10, 7), call(10, 12, 8)},
                      {ev(Kind::kForward, 0, 8), call(8, 10, 7), call(10, 12, 9)}};
  const Analysis a = analyze(set);
  EXPECT_DOUBLE_EQ(a.devices[0].wait, 6.0 / 12);
  EXPECT_DOUBLE_EQ(a.devices[0].comm, 4.0 / 12);
  EXPECT_DOUBLE_EQ(a.devices[1].wait, 0.0);
  EXPECT_DOUBLE_EQ(a.devices[1].comm, 4.0 / 12);
  EXPECT_DOUBLE_EQ(a.wait, 3.0 / 12);
}

TEST(TraceAnalysis, StepOutOfRangeIsAUserError) {
  TraceSet set = synthetic_pipeline(pipeline(2, 2));
  AnalysisOptions o;
  o.step = 3;
  try {
    analyze(set, o);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.exit_code(), 2);
    EXPECT_NE(std::string(e.what()).find("--step 3 is out of range"), std::string::npos) << e.what();
  }
}

TEST(WorkDepth, LayoutsFollowTheDefinitions) {
  const std::vector<LayerWork> layers = {{"a", 1}, {"b", 2}, {"c", 3}, {"d", 2}};  // W = 8
  EXPECT_EQ(balanced_stages(layers, 2), (std::vector<int>{0, 0, 1, 1}));           // 3 | 5 beats 6 | 2
  auto wd = [&](int dp, int tp, int pp, int m) {
    WorkDepthLayout l;
    l.dp = dp, l.tp = tp, l.pp = pp, l.microbatches = m;
    return work_depth(layers, l);
  };
  EXPECT_DOUBLE_EQ(wd(1, 1, 1, 1).depth, 8);
  EXPECT_DOUBLE_EQ(wd(1, 1, 2, 1).depth, 8);                      // placement: still one chain
  EXPECT_DOUBLE_EQ(wd(1, 1, 2, 4).depth, 8.0 / 4 + 3 * 5.0 / 4);  // Σ C_s/m + (m−1)·max C_s/m
  EXPECT_DOUBLE_EQ(wd(1, 2, 1, 1).depth, 4);
  EXPECT_DOUBLE_EQ(wd(2, 2, 1, 1).depth, 2);
  WorkDepth pipe = wd(1, 1, 2, 4);
  EXPECT_DOUBLE_EQ(pipe.work, 8);
  EXPECT_DOUBLE_EQ(pipe.parallelism, 8 / 5.75);
  EXPECT_DOUBLE_EQ(pipe.time_bound, 5.75);  // max(W/2 = 4, D)
  ASSERT_EQ(pipe.layers.size(), 4u);
  EXPECT_EQ(pipe.layers[2].stage, 1);
  EXPECT_DOUBLE_EQ(wd(1, 2, 1, 1).layers[2].depth, 1.5);
  // Balanced stages and many micro-batches approach p-fold parallelism: p·m/(m+p−1).
  const std::vector<LayerWork> even = {{"l0", 1}, {"l1", 1}, {"l2", 1}, {"l3", 1}};
  WorkDepthLayout l;
  l.pp = 4, l.microbatches = 16;
  EXPECT_DOUBLE_EQ(work_depth(even, l).parallelism, 4.0 * 16 / 19);
  EXPECT_THROW(balanced_stages(layers, 5), Error);
}

TEST(WorkDepth, TraceWorkFallsBackToMeasuredStages) {
  TraceSet set = synthetic_pipeline(pipeline(3, 2));
  auto work    = trace_work(set);
  ASSERT_EQ(work.size(), 3u);
  EXPECT_EQ(work[1].name, "stage 1");
  EXPECT_DOUBLE_EQ(work[1].work, 2 * 3e6);
  set.layers = {{"fc1", 5}};
  EXPECT_EQ(trace_work(set).size(), 1u);
}
