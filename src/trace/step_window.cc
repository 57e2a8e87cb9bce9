// Step windows: `--steps A:B`, the report's default window, and a trace restricted to a window.
#include "paraxis/trace/step_window.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <numeric>
#include <vector>

#include "paraxis/core/error.h"

namespace paraxis::trace {
namespace {

// A non-negative integer and nothing else ("", "-1", "1.5", "x" are not).
bool parse_index(std::string_view text, int& out) {
  if (text.empty() || text.front() == '-' || text.front() == '+') return false;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

}  // namespace

StepRange parse_step_range(std::string_view text) {
  const size_t colon          = text.find(':');
  const std::string_view head = text.substr(0, colon);
  const std::string_view tail = colon == std::string_view::npos ? head : text.substr(colon + 1);
  StepRange r;
  PX_USER_CHECK(parse_index(head, r.first) && parse_index(tail, r.last),
                "--steps '{}' is not a step range: give A:B, the first and the last step to show (0-based "
                "numbers, both included), or one step K; e.g. --steps 0:2",
                text);
  PX_USER_CHECK(r.first <= r.last,
                "--steps {} starts after it ends ({} > {}): the first step must not come after the last; use "
                "--steps {}:{}",
                text, r.first, r.last, r.last, r.first);
  return r;
}

void check_step_range(const StepRange& range, const TraceSet& set, std::string_view trace_name) {
  const int n = static_cast<int>(set.steps.size());
  PX_USER_CHECK(n > 0,
                "--steps {}:{} needs step marks, and {} has none (the whole trace is one window); leave out "
                "--steps",
                range.first, range.last, trace_name);
  // The suggestion keeps the number of steps asked for where the trace has that many, at its end.
  const int count = std::min(range.count(), n);
  const int first = std::min(range.first, n - count);
  PX_USER_CHECK(range.last < n,
                "--steps {}:{} is out of range: {} marks {} step{}, numbered 0..{}; use --steps {}:{}",
                range.first, range.last, trace_name, n, n == 1 ? "" : "s", n - 1, first, first + count - 1);
}

StepRange median_window(const TraceSet& set, int neighbours) {
  const int n = static_cast<int>(set.steps.size());
  if (n == 0) return {0, 0};
  std::vector<int> order(n);
  std::iota(order.begin(), order.end(), 0);
  auto duration = [&](int i) { return set.steps[i].t_end_ns - set.steps[i].t_begin_ns; };
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return duration(a) < duration(b); });
  const int median = order[(n - 1) / 2];
  const int last   = std::min(n - 1, std::max(median - neighbours, 0) + 2 * neighbours);
  return {std::max(0, last - 2 * neighbours), last};
}

TraceSet restrict_to_steps(const TraceSet& set, const StepRange& range) {
  PX_CHECK(range.first >= 0 && range.first <= range.last && range.last < static_cast<int>(set.steps.size()),
           "step range {}:{} outside the trace's {} steps (check_step_range first)", range.first, range.last,
           set.steps.size());
  TraceSet out = set;
  out.steps.assign(set.steps.begin() + range.first, set.steps.begin() + range.last + 1);
  return out;
}

std::string describe_window(const StepRange& range, const TraceSet& set) {
  const size_t n = set.steps.size();
  if (n == 0) return "the whole trace (no step marks)";
  if (range.count() == 1) return fmt::format("step {} of {}", range.first, n);
  return fmt::format("steps {}–{} of {}", range.first, range.last, n);
}

}  // namespace paraxis::trace
