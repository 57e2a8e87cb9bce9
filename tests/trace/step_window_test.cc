// Step windows: `--steps A:B` parsing and its messages, the report's default window, and that an analysis
// restricted to some steps measures exactly those steps.
#include "paraxis/trace/step_window.h"

#include <gtest/gtest.h>

#include "paraxis/trace/analysis.h"
#include "paraxis/trace/synthetic.h"
#include "test_support/user_error.h"

using namespace paraxis;
using namespace paraxis::trace;

namespace {

// A trace whose steps last the given ms, back to back, with no events (the windows only read the steps).
TraceSet steps_of(std::initializer_list<int> durations_ms) {
  TraceSet set;
  int64_t t = 0;
  for (int ms : durations_ms) {
    set.steps.push_back({t, t + ms * 1'000'000});
    t += ms * 1'000'000;
  }
  return set;
}

TraceSet one_step() {
  PipelineShape s;
  s.stages       = 4;
  s.microbatches = 8;
  s.comm_ns      = 5e4;
  s.opt_ns       = 3e5;
  return synthetic_pipeline(s);
}

size_t event_count(const TraceSet& set) {
  size_t n = 0;
  for (const auto& events : set.events) n += events.size();
  return n;
}

}  // namespace

TEST(StepWindow, ParsesARangeOrOneStep) {
  EXPECT_EQ(parse_step_range("148:150"), (StepRange{148, 150}));
  EXPECT_EQ(parse_step_range("0:0"), (StepRange{0, 0}));
  EXPECT_EQ(parse_step_range("7"), (StepRange{7, 7}));
  EXPECT_EQ(parse_step_range("7").count(), 1);
  EXPECT_EQ(parse_step_range("2:5").count(), 4);
}

TEST(StepWindow, TextThatIsNotARangeNamesTheValueAndTheForm) {
  for (const char* bad : {"x", "x:2", "1:", ":2", "-1:3", "1.5:2", "1:2:3", "", " 1:2", "1:2 ", "+1:2"})
    EXPECT_USER_ERROR(parse_step_range(bad), std::string("--steps '") + bad + "' is not a step range",
                      "give A:B, the first and the last step to show (0-based", "e.g. --steps 0:2");
}

TEST(StepWindow, AStartAfterTheEndSuggestsTheSwappedRange) {
  EXPECT_USER_ERROR(parse_step_range("5:3"), "--steps 5:3 starts after it ends (5 > 3)",
                    "the first step must not come after the last", "use --steps 3:5");
}

TEST(StepWindow, ARangePastTheLastStepSuggestsOneInside) {
  const TraceSet set = steps_of({1, 1, 1, 1, 1, 1, 1, 1, 1, 1});  // 10 steps: 0..9
  check_step_range({0, 9}, set, "run.json");                      // the whole trace is fine
  EXPECT_USER_ERROR(check_step_range({8, 12}, set, "run.json"),
                    "--steps 8:12 is out of range: run.json marks 10 steps, numbered 0..9; use --steps 5:9");
  EXPECT_USER_ERROR(check_step_range({10, 10}, set, "run.json"), "use --steps 9:9");
  EXPECT_USER_ERROR(check_step_range({3, 40}, set, "run.json"), "use --steps 0:9");
  EXPECT_USER_ERROR(check_step_range({0, 1}, steps_of({1}), "one.json"),
                    "one.json marks 1 step, numbered 0..0; use --steps 0:0");
}

TEST(StepWindow, ATraceWithoutStepMarksHasNoStepsToChoose) {
  EXPECT_USER_ERROR(check_step_range({0, 0}, TraceSet{}, "bare.json"),
                    "--steps 0:0 needs step marks, and bare.json has none", "leave out --steps");
  EXPECT_EQ(median_window(TraceSet{}), (StepRange{0, 0}));
  EXPECT_EQ(describe_window({0, 0}, TraceSet{}), "the whole trace (no step marks)");
}

TEST(StepWindow, DefaultIsTheMedianStepAndItsNeighbours) {
  // A slow first step (warm-up) and one slightly slow step: sorted, the lower median of 10 is step 5.
  const TraceSet set = steps_of({100, 10, 10, 10, 10, 10, 11, 10, 10, 10});
  EXPECT_EQ(median_window(set), (StepRange{4, 6}));
  EXPECT_EQ(median_window(set, 0), (StepRange{5, 5}));
  EXPECT_EQ(median_window(set, 2), (StepRange{3, 7}));
  EXPECT_EQ(describe_window(median_window(set), set), "steps 4–6 of 10");
  EXPECT_EQ(describe_window({5, 5}, set), "step 5 of 10");
}

TEST(StepWindow, TheDefaultWindowStaysInsideTheTrace) {
  EXPECT_EQ(median_window(steps_of({5, 1, 9, 1, 9})), (StepRange{0, 2}));  // the median is the first step..
  EXPECT_EQ(median_window(steps_of({9, 1, 9, 1, 5})), (StepRange{2, 4}));  // ..or the last: shifted inward
  EXPECT_EQ(median_window(steps_of({3, 1})), (StepRange{0, 1}));           // fewer steps than the window
  EXPECT_EQ(median_window(steps_of({3})), (StepRange{0, 0}));
}

TEST(StepWindow, RepeatedStepsAreMarkedAndKeepTheirPartners) {
  const TraceSet one = one_step();
  const TraceSet run = repeat_steps(one, 5);
  ASSERT_EQ(run.steps.size(), 5u);
  EXPECT_EQ(event_count(run), 5 * event_count(one));
  const int64_t step = one.steps[0].t_end_ns - one.steps[0].t_begin_ns;
  for (size_t k = 0; k < run.steps.size(); ++k) {
    EXPECT_EQ(run.steps[k].t_begin_ns, one.steps[0].t_begin_ns + static_cast<int64_t>(k) * step);
    EXPECT_EQ(run.steps[k].t_end_ns - run.steps[k].t_begin_ns, step);
  }
  const FlowMatch flows = match_flows(run);
  EXPECT_EQ(flows.unmatched_sends + flows.unmatched_recvs, 0);
  EXPECT_EQ(flows.flows.size(), 5 * match_flows(one).flows.size());
}

TEST(StepWindow, AnAnalysisOfSomeStepsMeasuresExactlyThem) {
  const TraceSet run      = repeat_steps(one_step(), 7);
  const Analysis all      = analyze(run);
  const Analysis some     = analyze(restrict_to_steps(run, {2, 4}));
  const Analysis step_two = analyze(run, {.step = 2});
  EXPECT_EQ(some.num_steps, 3);
  EXPECT_EQ(some.window_begin_ns, run.steps[2].t_begin_ns);
  EXPECT_EQ(some.window_end_ns, run.steps[4].t_end_ns);
  // Identical steps: three of them look like all seven and like one, and the transfers across the window's
  // edges still have their partners.
  EXPECT_NEAR(some.utilization, all.utilization, 1e-12);
  EXPECT_NEAR(some.utilization, step_two.utilization, 1e-12);
  EXPECT_DOUBLE_EQ(some.step_ns, step_two.step_ns);
  EXPECT_EQ(some.unmatched_sends + some.unmatched_recvs, 0);
  // The critical path stays inside the window.
  ASSERT_FALSE(some.critical_path.steps.empty());
  for (const PathStep& p : some.critical_path.steps) {
    EXPECT_GT(p.event.t_end_ns, some.window_begin_ns);
    EXPECT_LT(p.event.t_begin_ns, some.window_end_ns);
  }
  EXPECT_EQ(event_count(restrict_to_steps(run, {2, 4})), event_count(run));
}
