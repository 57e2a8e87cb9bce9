// paraxis/trace/report.h — one self-contained HTML page (inline CSS and SVG, no script, no network) comparing
// traces side by side: a timeline per device, utilization bars, the verdict and the recommendation.
//
//   std::vector<trace::ReportEntry> entries = {{"placement.json",
//   trace::read_chrome_trace("placement.json")},
//                                              {"1f1b.json", trace::read_chrome_trace("1f1b.json")}};
//   std::string html = trace::render_html_report(entries);      // `paraxis report A B -o report.html`
//
// All timelines share one time axis (ms), so a faster layout is visibly shorter. Elements carry classes the
// rendering test looks for: svg.timeline, rect.ev.<kind>, g.util-bar, p.verdict, p.recommendation.
#pragma once

#include <span>
#include <string>

#include "paraxis/trace/recorder.h"

namespace paraxis::trace {

struct ReportEntry {
  std::string name;  // shown above the trace, e.g. the file name
  TraceSet set;
};

std::string render_html_report(std::span<const ReportEntry> entries,
                               const std::string& title = "paraxis trace report");

}  // namespace paraxis::trace
