// run_layout and the Engine's trace: step marks, SEND/RECV pairs by seq with world-rank peers, collectives
// sharing a flow id, equal losses across layouts, cropping.
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <set>

#include "paraxis/core/error.h"
#include "paraxis/data/sources.h"
#include "paraxis/trace/analysis.h"
#include "paraxis/train/layout_run.h"

namespace paraxis {
namespace {

LayoutRunConfig tiny(int devices, int dp, int pp, int m) {
  LayoutRunConfig c;
  c.model = ModelSpec::mlp({12, 16, 16, 16, 4});
  c.data  = std::make_shared<ClassificationDataset>(make_synthetic_classification(256, {12}, 4, 3, 1.0f));
  c.batch = 32, c.steps = 4, c.lr = 0.05, c.trace_steps = 2;
  c.devices = devices, c.dp = dp, c.pp = pp, c.microbatches = m;
  return c;
}

// Every event of `set` overlaps its step window, or shares its flow id with one that does (a collective that
// straddles the window's edge is kept on every device that took part).
void expect_inside_or_member(const trace::TraceSet& set) {
  ASSERT_FALSE(set.steps.empty());
  const int64_t lo = set.steps.front().t_begin_ns, hi = set.steps.back().t_end_ns;
  auto inside = [&](const trace::Event& e) { return e.t_end_ns > lo && e.t_begin_ns < hi; };
  std::set<int64_t> inside_flows;
  for (const auto& events : set.events)
    for (const trace::Event& e : events)
      if (e.flow_id >= 0 && inside(e)) inside_flows.insert(e.flow_id);
  for (const auto& events : set.events)
    for (const trace::Event& e : events)
      EXPECT_TRUE(inside(e) || (e.flow_id >= 0 && inside_flows.count(e.flow_id)))
          << "event [" << e.t_begin_ns << ", " << e.t_end_ns << ") outside [" << lo << ", " << hi << ")";
}

TEST(LayoutRun, PipelineTraceHasStepsAndPairedTransfers) {
  LayoutRunResult r = run_layout(tiny(2, 1, 2, 4));
  ASSERT_EQ(r.losses.size(), 4u);
  ASSERT_EQ(r.trace.steps.size(), 2u);  // the last two of four
  trace::FlowMatch fm = trace::match_flows(r.trace);
  EXPECT_EQ(fm.unmatched_sends, 0);
  EXPECT_EQ(fm.unmatched_recvs, 0);
  EXPECT_EQ(fm.flows.size(), 2u * 2 * 4);  // 2 steps x (activations + gradients) x 4 micro-batches
  for (const trace::Flow& f : fm.flows) {
    const trace::Event& s = r.trace.events[f.src_device][f.src_index];
    const trace::Event& v = r.trace.events[f.dst_device][f.dst_index];
    EXPECT_EQ(s.seq, v.seq);
    EXPECT_EQ(s.microbatch, v.microbatch);
    EXPECT_EQ(s.bytes, v.bytes);
    EXPECT_GT(s.bytes, 0);
  }
  // 1F1B stash: stage 0 holds two micro-batches at its peak, the last stage one.
  ASSERT_EQ(r.peak_stash_bytes.size(), 2u);
  EXPECT_GT(r.peak_stash_bytes[0], 0);
  EXPECT_GT(r.peak_stash_bytes[1], 0);
  // Every event lies inside the kept steps, or is a member of a call another device made inside them.
  expect_inside_or_member(r.trace);
}

TEST(LayoutRun, LossesEqualAcrossLayouts) {
  LayoutRunResult one = run_layout(tiny(1, 1, 1, 1));
  for (LayoutRunConfig c : {tiny(2, 1, 2, 4), tiny(2, 2, 1, 1), tiny(4, 2, 2, 2)}) {
    LayoutRunResult r = run_layout(c);
    ASSERT_EQ(r.losses.size(), one.losses.size());
    for (size_t k = 0; k < r.losses.size(); ++k) EXPECT_NEAR(r.losses[k], one.losses[k], 2e-5) << r.layout;
  }
}

TEST(LayoutRun, PeersAreWorldRanksAndCollectivesShareFlowIds) {
  // dp2 x pp2: pipeline peers of device 2 (dp1 pp0) is device 3 (dp1 pp1), not pipeline-group rank 1.
  LayoutRunResult r = run_layout(tiny(4, 2, 2, 2));
  for (int d = 0; d < 4; ++d)
    for (const trace::Event& e : r.trace.events[d])
      if (e.kind == trace::Kind::kSend || e.kind == trace::Kind::kRecv) {
        EXPECT_EQ(r.trace.devices[e.peer].dp, r.trace.devices[d].dp) << "device " << d;
        EXPECT_NE(r.trace.devices[e.peer].pp, r.trace.devices[d].pp);
      }
  std::map<int64_t, int> members;  // flow id -> devices that took part
  for (const auto& events : r.trace.events)
    for (const trace::Event& e : events)
      if (e.kind == trace::Kind::kAllReduce) {
        ASSERT_GE(e.flow_id, 0);
        ++members[e.flow_id];
      }
  ASSERT_FALSE(members.empty());
  // Data-parallel buckets and the pipeline's norm reduction have 2 members, the loss reduction all 4.
  for (const auto& [id, n] : members) EXPECT_TRUE(n == 2 || n == 4) << "flow " << id << ": " << n;
}

TEST(LayoutRun, CropKeepsTheChosenSteps) {
  LayoutRunConfig c    = tiny(2, 1, 2, 2);
  c.trace_steps        = 3;
  LayoutRunResult r    = run_layout(c);
  trace::TraceSet last = crop_steps(r.trace, 2, 1);
  ASSERT_EQ(last.steps.size(), 1u);
  EXPECT_EQ(last.steps[0].t_begin_ns, r.trace.steps[2].t_begin_ns);
  const int64_t lo = last.steps[0].t_begin_ns, hi = last.steps[0].t_end_ns;
  auto inside = [&](const trace::Event& e) { return e.t_end_ns > lo && e.t_begin_ns < hi; };
  expect_inside_or_member(last);
  size_t before = 0, after = 0;
  for (const auto& events : r.trace.events) before += events.size();
  for (const auto& events : last.events) {
    EXPECT_FALSE(events.empty());
    after += events.size();
  }
  EXPECT_LT(after, before);  // the first two steps were cut away
  // Nothing that lies in the window was dropped.
  size_t in_window = 0, in_window_kept = 0;
  for (const auto& events : r.trace.events)
    for (const trace::Event& e : events) in_window += inside(e);
  for (const auto& events : last.events)
    for (const trace::Event& e : events) in_window_kept += inside(e);
  EXPECT_EQ(in_window_kept, in_window);
  EXPECT_THROW(crop_steps(r.trace, 2, 2), Error);
}

}  // namespace
}  // namespace paraxis

namespace paraxis {
namespace {

// --defer-wgrad keeps every micro-batch's Linear inputs and output gradients until the step's flush: the
// measured stash grows beyond 1F1B's (p − r micro-batches), the losses stay those of the plain run, and
// the flush appears in the trace as W actions over all micro-batches (micro-batch -1).
TEST(LayoutRun, DeferredWeightGradientsAreStashedAndTraced) {
  LayoutRunConfig plain = tiny(2, 1, 2, 4), deferred = tiny(2, 1, 2, 4);
  deferred.defer_wgrad = true;
  LayoutRunResult a = run_layout(plain), b = run_layout(deferred);
  ASSERT_EQ(a.losses.size(), b.losses.size());
  for (size_t k = 0; k < a.losses.size(); ++k) EXPECT_NEAR(a.losses[k], b.losses[k], 1e-5);
  ASSERT_EQ(b.peak_stash_bytes.size(), 2u);
  for (int st = 0; st < 2; ++st) EXPECT_GT(b.peak_stash_bytes[st], a.peak_stash_bytes[st]) << "stage " << st;
  for (int d = 0; d < 2; ++d) {
    int flushes = 0;
    for (const trace::Event& e : b.trace.events[d])
      if (e.kind == trace::Kind::kBackwardWeight && e.microbatch == -1) {
        ++flushes;
        EXPECT_EQ(e.stage, d);
      }
    EXPECT_GT(flushes, 0) << "device " << d;
  }
}

}  // namespace
}  // namespace paraxis
