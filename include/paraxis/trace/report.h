// paraxis/trace/report.h — one self-contained HTML page (inline CSS, SVG and script; no network, no other
// file) comparing traces side by side: a timeline per device, utilization bars, the verdict and the
// recommendation.
//
//   std::vector<trace::ReportEntry> entries = {{"placement.json",
//   trace::read_chrome_trace("placement.json")},
//                                              {"1f1b.json", trace::read_chrome_trace("1f1b.json")}};
//   std::string html = trace::render_html_report(entries);      // `paraxis report A B -o report.html`
//   html = trace::render_html_report(entries, {.steps = trace::StepRange{10, 12}});   // `--steps 10:12`
//
// Each trace shows a window of its steps — by default the median step and its neighbours (step_window.h),
// or the same `steps` for all — and its figures are those of that window (what `paraxis analyze --steps A:B`
// prints). All timelines share one time axis (ms from their window's start), so a faster layout is visibly
// shorter; the page's script zooms and pans that axis (Ctrl + wheel, drag, buttons; `#view=A:B` in the URL
// opens it at A..B ms). The critical path is outlined only on events wide enough to read at the current zoom.
// Elements carry classes the rendering test looks for: svg.timeline, rect.ev.<kind>, rect.ev.crit,
// g.util-bar, p.window, svg.steps, p.verdict, p.recommendation.
#pragma once

#include <optional>
#include <span>
#include <string>

#include "paraxis/trace/recorder.h"
#include "paraxis/trace/step_window.h"

namespace paraxis::trace {

struct ReportEntry {
  std::string name;  // shown above the trace, e.g. the file name
  TraceSet set;
};

struct ReportOptions {
  std::string title = "paraxis trace report";
  std::optional<StepRange> steps;  // every trace shows these steps (exit 2 when one has fewer)
};

std::string render_html_report(std::span<const ReportEntry> entries, const ReportOptions& options = {});

}  // namespace paraxis::trace
