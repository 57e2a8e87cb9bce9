// paraxis/trace/step_window.h — which of a trace's steps to look at: `--steps A:B` of `paraxis analyze` and
// `paraxis report`, and the report's default window (the median step and its neighbours).
//
//   trace::StepRange r = trace::parse_step_range("148:150");   // steps 148, 149, 150 (0-based, inclusive)
//   trace::check_step_range(r, set, "run.json");               // exit 2 when the trace has fewer steps
//   trace::Analysis a = trace::analyze(trace::restrict_to_steps(set, r));   // the figures of those steps
//   trace::StepRange w = trace::median_window(set);            // what the report shows by default
//
// A trace without step marks is one window (its whole span): it has no steps to choose from.
#pragma once

#include <string>
#include <string_view>

#include "paraxis/trace/recorder.h"

namespace paraxis::trace {

struct StepRange {
  int first = 0, last = 0;  // 0-based indices into TraceSet::steps, both included
  int count() const { return last - first + 1; }
  bool operator==(const StepRange&) const = default;
};

// "A:B" (A ≤ B) or "K" (= K:K), non-negative integers. Bad text exits 2 naming the value, the rule and a
// valid alternative.
StepRange parse_step_range(std::string_view text);

// Exits 2 unless the trace marks steps first..last; `trace_name` names the file in the message.
void check_step_range(const StepRange& range, const TraceSet& set, std::string_view trace_name);

// The step of median duration (the lower median; the earlier step among equal ones) and `neighbours` steps
// on each side, shifted to stay inside the trace. A trace without step marks: {0, 0}.
StepRange median_window(const TraceSet& set, int neighbours = 1);

// The same trace with only these steps marked, so that analyze() measures exactly their window. Events stay
// (sends and receives across the window's edges keep their partners).
TraceSet restrict_to_steps(const TraceSet& set, const StepRange& range);

// "steps 148–150 of 300", "step 7 of 300", "the whole trace (no step marks)".
std::string describe_window(const StepRange& range, const TraceSet& set);

}  // namespace paraxis::trace
