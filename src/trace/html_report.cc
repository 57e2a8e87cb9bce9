// HTML report: summary table, legend, then per trace the window it shows, a step overview, the verdict, an
// SVG timeline and utilization bars, and at the end the script that zooms and pans the timelines. Everything
// is inline (the page must open on a machine without network access). The drawing is in report_timeline.cc
// and report_steps.cc, the script in report_view.js.
#include <fmt/format.h>

#include <algorithm>

#include "paraxis/core/error.h"
#include "paraxis/trace/analysis.h"
#include "paraxis/trace/report.h"
#include "trace/report_parts.h"

namespace paraxis::trace {
namespace report {

std::string escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string pct(double x) {
  return fmt::format("{:.1f}%", 100 * x);
}

}  // namespace report

namespace {

using report::escape;
using report::pct;

// One device has nothing to run beside it: neither parallel nor partitioned.
const char* verdict_class(const Analysis& a) {
  return a.num_devices == 1 ? "single" : a.parallel ? "parallel" : "partitioning";
}
// The layout's kind (the verdict's first words), and "serial" when a layout meant to be parallel was not.
std::string verdict_word(const Analysis& a) {
  const bool expected_serial = a.num_devices == 1 || a.kind == "workload partitioning";
  return a.parallel || expected_serial ? a.kind : a.kind + ", serial";
}

const char* kStyle = R"(
body { font: 14px/1.35 "DejaVu Sans", Arial, sans-serif; color: #222; margin: 16px 28px; background: #fff; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 16px; margin: 0 0 4px; }
.sub { color: #666; margin: 0 0 8px; }
table.summary { border-collapse: collapse; margin: 4px 0 10px; }
table.summary th, table.summary td { padding: 3px 10px; border-bottom: 1px solid #ddd; text-align: right; }
table.summary th:nth-child(-n+2), table.summary td:nth-child(-n+2) { text-align: left; }
table.summary th:last-child { text-align: left; }
table.summary td.v { text-align: left; }
.badge { display: inline-block; padding: 1px 7px; border-radius: 9px; font-size: 12px; color: #fff; }
.badge.parallel { background: #2e7d32; } .badge.partitioning { background: #c62828; }
.badge.single { background: #616161; } p.verdict.single { color: #424242; }
.legend { display: flex; flex-wrap: wrap; gap: 14px; margin: 6px 0 12px; font-size: 13px; }
.legend span.sw { display: inline-block; width: 14px; height: 12px; vertical-align: -2px; margin-right: 4px;
  border: 1px solid #999; }
section.trace { border: 1px solid #ddd; border-radius: 6px; padding: 8px 14px; margin: 0 0 12px; }
p.verdict { margin: 2px 0; font-weight: bold; } p.verdict.parallel { color: #2e7d32; }
p.verdict.partitioning { color: #c62828; } p.recommendation { margin: 2px 0 8px; }
.figures { color: #444; font-size: 13px; margin: 0 0 4px; }
svg.timeline { display: block; } svg text { font: 12px "DejaVu Sans", Arial, sans-serif; fill: #333; }
svg .tick { stroke: #ccc; stroke-width: 1; } svg .lane { fill: #f1f1f1; }
rect.ev.crit { stroke: #000; stroke-width: 1.2; } text.evl { font-size: 10px; fill: #fff; text-anchor: middle; }
p.window { margin: 2px 0; color: #333; } svg.steps { display: block; margin: 0 0 4px; }
svg.steps .step { fill: #8c8c8c; }
svg.steps .shown { fill: rgba(255, 193, 7, 0.5); stroke: #b26a00; stroke-width: 1.5; }
.view-controls { position: sticky; top: 0; z-index: 1; background: #fff; padding: 4px 0; margin: 0 0 8px;
  font-size: 13px; } .view-controls button { font: inherit; margin-right: 4px; min-width: 28px; }
svg.timeline.zoomable { cursor: grab; user-select: none; }
.busy { fill: #2e7d32; } .commu { fill: #b279a2; } .waiting { fill: #e45756; } .idle { fill: #e3e3e3; }
.F { fill: #4c78a8; background: #4c78a8; } .B { fill: #f58518; background: #f58518; }
.I { fill: #eeca3b; background: #eeca3b; } .W { fill: #72b7b2; background: #72b7b2; }
.OPT { fill: #54a24b; background: #54a24b; } .P2P { fill: #b279a2; background: #b279a2; }
.COLL { fill: #9d755d; background: #9d755d; } .WAIT { fill: #e45756; background: #e45756; }
.OTHER { fill: #bab0ac; background: #bab0ac; } .IDLE { fill: #f1f1f1; background: #f1f1f1; }
)";

std::string legend() {
  std::string s                                     = R"(<div class="legend">)";
  const std::pair<const char*, const char*> items[] = {
      {"F", "forward (F)"},         {"B", "backward (B)"}, {"I", "backward-input (I)"},
      {"W", "backward-weight (W)"}, {"OPT", "optimizer"},  {"P2P", "send / recv"},
      {"COLL", "collective"},       {"WAIT", "waiting"},   {"IDLE", "idle"}};
  for (auto [cls, text] : items) s += fmt::format(R"(<span><span class="sw {}"></span>{}</span>)", cls, text);
  s += fmt::format(
      R"(<span><span class="sw" style="border:2px solid #000"></span>critical path (outlined on compute )"
      R"(events at least {:g} px wide: zoom in to see it on narrower ones)</span>)",
      report::kCritMinPx);
  s += R"(<span><span class="sw" style="background:#2e7d32"></span>busy (utilization bar)</span>)";
  s += R"(<span>upper lane: compute · lower lane: communication</span>)";
  return s + "</div>\n";
}

// A trace as the page shows it: the steps of its window and the analysis of exactly those steps.
struct TraceView {
  StepRange range;
  bool chosen = false;  // by --steps, else the default window
  Analysis analysis;
};

TraceView view_of(const ReportEntry& entry, const ReportOptions& options) {
  TraceView v;
  v.chosen = options.steps.has_value();
  if (v.chosen) check_step_range(*options.steps, entry.set, entry.name);
  v.range    = v.chosen ? *options.steps : median_window(entry.set);
  v.analysis = entry.set.steps.empty() ? analyze(entry.set) : analyze(restrict_to_steps(entry.set, v.range));
  return v;
}

// "Showing steps 148–150 of 300 (...)" with the range in data-* for tools and tests.
std::string window_note(const TraceSet& set, const TraceView& v) {
  const int n           = static_cast<int>(set.steps.size());
  const std::string why = v.chosen ? fmt::format(" (chosen with --steps {}:{})", v.range.first, v.range.last)
                          : n > 1  ? " (the median step and its neighbours; --steps A:B shows others)"
                                   : "";
  return fmt::format(
      R"(<p class="window" data-first="{}" data-last="{}" data-of="{}">Showing {}{}. The figures and the )"
      R"(timeline are of these steps.</p>)"
      "\n",
      v.range.first, v.range.last, n, describe_window(v.range, set), why);
}

std::string summary_table(std::span<const ReportEntry> entries, const std::vector<TraceView>& views) {
  std::string h =
      "<table class=\"summary\"><tr><th>trace</th><th>layout</th><th>devices</th><th>shown</th><th>step</th>"
      "<th>utilization</th><th>bubble</th><th>overlap</th><th>≥2 computing</th><th>speedup</th>"
      "<th>verdict</th></tr>\n";
  for (size_t i = 0; i < entries.size(); ++i) {
    const Analysis& a = views[i].analysis;
    h += fmt::format(
        "<tr><td><a href=\"#trace-{}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{:.3f} ms</td>"
        "<td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>"
        "<td class=\"v\"><span class=\"badge {}\">{}</span></td></tr>\n",
        i, escape(entries[i].name), escape(a.layout), a.num_devices,
        describe_window(views[i].range, entries[i].set), a.step_ns / 1e6, pct(a.utilization), pct(a.bubble),
        a.overlap ? pct(*a.overlap) : "–", pct(a.parallel_fraction),
        a.speedup ? fmt::format("{:.2f}×", *a.speedup) : "–", verdict_class(a), verdict_word(a));
  }
  return h + "</table>\n";
}

std::string trace_section(const ReportEntry& entry, const TraceView& v, double axis_ms, int index) {
  const Analysis& a = v.analysis;
  std::string h     = fmt::format("<section class=\"trace\" id=\"trace-{}\">\n<h2>{} — {}</h2>\n", index,
                                  escape(a.layout), escape(entry.name));
  h += window_note(entry.set, v) + report::steps_overview_svg(entry.set, v.range);
  h += fmt::format("<p class=\"verdict {}\">{}</p>\n", verdict_class(a), escape(a.verdict));
  h += fmt::format("<p class=\"recommendation\">Recommendation: {}</p>\n", escape(a.recommendation));
  h += fmt::format(
      "<p class=\"figures\">step {:.3f} ms · utilization {} · bubble {} · overlap {} · critical path {:.3f} "
      "ms "
      "through {} device{}{}</p>\n",
      a.step_ns / 1e6, pct(a.utilization), pct(a.bubble), a.overlap ? pct(*a.overlap) : "–",
      a.critical_path.length_ns / 1e6, a.critical_path.devices_visited,
      a.critical_path.devices_visited == 1 ? "" : "s",
      a.speedup ? fmt::format(" · speedup {:.2f}× of ideal {:.0f}×", *a.speedup, a.ideal_speedup) : "");
  return h + report::timeline_svg(entry.set, a, axis_ms, index) + "</section>\n";
}

}  // namespace

std::string render_html_report(std::span<const ReportEntry> entries, const ReportOptions& options) {
  PX_USER_CHECK(!entries.empty(), "the report needs at least one trace; give one or more trace files");
  std::vector<TraceView> views;
  double axis_ms = 0;
  for (const ReportEntry& e : entries) {
    views.push_back(view_of(e, options));
    const Analysis& a = views.back().analysis;
    axis_ms           = std::max(axis_ms, (a.window_end_ns - a.window_begin_ns) / 1e6);
  }
  std::string h = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n";
  h += fmt::format("<title>{}</title>\n<style>{}</style></head><body>\n", escape(options.title), kStyle);
  h += fmt::format(
      "<h1>{}</h1>\n<p class=\"sub\">{} trace{}; all timelines share one time axis, in ms from the start of "
      "each trace's window.</p>\n",
      escape(options.title), entries.size(), entries.size() == 1 ? "" : "s");
  h += summary_table(entries, views) + legend();
  for (size_t i = 0; i < entries.size(); ++i)
    h += trace_section(entries[i], views[i], axis_ms, static_cast<int>(i));
  h += fmt::format("<script>{}</script>\n</body></html>\n", report::kViewScript);
  return h;
}

}  // namespace paraxis::trace
