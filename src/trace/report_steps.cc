// The report's step overview: every step of the trace as a bar as tall as its duration, the steps the
// timeline shows marked, so a reader sees which part of a long run the window is and whether other steps
// differ (a slow first step, a stall). Steps share a pixel column when there are more steps than pixels; the
// column shows its longest step.
#include <fmt/format.h>

#include <algorithm>

#include "trace/report_parts.h"

namespace paraxis::trace::report {
namespace {

constexpr double kStepsH = 26;  // px, the tallest bar
constexpr double kTop    = 4;

int64_t duration(const Step& s) {
  return s.t_end_ns - s.t_begin_ns;
}

// Bars for the steps in `columns` pixel columns, each as tall as its longest step.
std::string step_bars(const std::vector<Step>& steps, int columns, int64_t longest) {
  const int n        = static_cast<int>(steps.size());
  const double col_w = kPlotWidth / columns;
  const double bar_w = col_w > 3 ? col_w - 1 : col_w;  // a gap between bars where there is room
  std::string s;
  for (int c = 0; c < columns; ++c) {
    int64_t tallest = 0;
    for (int i = c * n / columns; i < (c + 1) * n / columns; ++i)
      tallest = std::max(tallest, duration(steps[i]));
    const double h = std::max(1.0, kStepsH * tallest / std::max<int64_t>(longest, 1));
    s += fmt::format(R"(<rect class="step" x="{:.2f}" y="{:.2f}" width="{:.2f}" height="{:.2f}"/>)",
                     kLabelWidth + c * col_w, kTop + kStepsH - h, bar_w, h);
  }
  return s;
}

}  // namespace

std::string steps_overview_svg(const TraceSet& set, const StepRange& shown) {
  const std::vector<Step>& steps = set.steps;
  const int n                    = static_cast<int>(steps.size());
  if (n <= 1) return "";
  std::vector<int64_t> sorted;
  for (const Step& s : steps) sorted.push_back(duration(s));
  std::sort(sorted.begin(), sorted.end());
  const double height = kTop + kStepsH + 14;
  std::string s       = fmt::format(
            R"(<svg class="steps" width="{}" height="{}" viewBox="0 0 {} {}"><title>{} steps: shortest {:.3f} ms, )"
                  R"(median {:.3f} ms, longest {:.3f} ms</title>)",
            kUtilX, height, kUtilX, height, n, sorted.front() / 1e6, sorted[(n - 1) / 2] / 1e6,
            sorted.back() / 1e6);
  s += fmt::format(R"(<text x="4" y="{}">step durations</text>)", kTop + kStepsH - 6);
  s += step_bars(steps, std::min(n, static_cast<int>(kPlotWidth)), sorted.back());
  const double px_per_step = kPlotWidth / n;  // the marker over the bars, wide enough to find
  s += fmt::format(R"(<rect class="shown" x="{:.2f}" y="1" width="{:.2f}" height="{}"/>)",
                   kLabelWidth + shown.first * px_per_step, std::max(4.0, shown.count() * px_per_step),
                   kTop + kStepsH);
  const double label_y = kTop + kStepsH + 13;
  s += fmt::format(R"(<text x="{}" y="{}">0</text>)", kLabelWidth, label_y);
  s += fmt::format(R"(<text x="{}" y="{}" text-anchor="end">{}</text>)", kLabelWidth + kPlotWidth, label_y,
                   n - 1);
  return s + "</svg>\n";
}

}  // namespace paraxis::trace::report
