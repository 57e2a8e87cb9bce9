// HTML report: summary table, legend, then per trace a verdict, an SVG timeline and utilization bars.
// Everything is inline (the page must open on a machine without network access).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "paraxis/core/error.h"
#include "paraxis/trace/analysis.h"
#include "paraxis/trace/report.h"

namespace paraxis::trace {
namespace {
// One device has nothing to run beside it: neither parallel nor partitioned.
const char* verdict_class(const Analysis& a) {
  return a.num_devices == 1 ? "single" : a.parallel ? "parallel" : "partitioning";
}
// The layout's kind (the verdict's first words), and "serial" when a layout meant to be parallel was not.
std::string verdict_word(const Analysis& a) {
  const bool expected_serial = a.num_devices == 1 || a.kind == "workload partitioning";
  return a.parallel || expected_serial ? a.kind : a.kind + ", serial";
}
}  // namespace

namespace {

constexpr double kLabelWidth = 190;                            // px, device labels left of the timeline
constexpr double kPlotWidth  = 860;                            // px, the shared time axis
constexpr double kUtilX      = kLabelWidth + kPlotWidth + 24;  // utilization bar right of the timeline
constexpr double kUtilWidth  = 150;
constexpr double kComputeH   = 18;  // px, compute lane
constexpr double kCommH      = 8;   // px, comm lane under it
constexpr double kRowGap     = 7;
constexpr double kAxisH      = 24;

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

// Colour class of an event: the action letters, then communication kinds folded into three.
std::string css_class(Kind k) {
  switch (k) {
    case Kind::kForward:
      return "F";
    case Kind::kBackward:
      return "B";
    case Kind::kBackwardInput:
      return "I";
    case Kind::kBackwardWeight:
      return "W";
    case Kind::kOptStep:
      return "OPT";
    case Kind::kSend:
    case Kind::kRecv:
      return "P2P";
    case Kind::kWait:
      return "WAIT";
    case Kind::kOther:
      return "OTHER";
    default:
      return "COLL";
  }
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
rect.ev.crit { stroke: #000; stroke-width: 1.2; }
.busy { fill: #2e7d32; } .commu { fill: #b279a2; } .waiting { fill: #e45756; } .idle { fill: #e3e3e3; }
.F { fill: #4c78a8; background: #4c78a8; } .B { fill: #f58518; background: #f58518; }
.I { fill: #eeca3b; background: #eeca3b; } .W { fill: #72b7b2; background: #72b7b2; }
.OPT { fill: #54a24b; background: #54a24b; } .P2P { fill: #b279a2; background: #b279a2; }
.COLL { fill: #9d755d; background: #9d755d; } .WAIT { fill: #e45756; background: #e45756; }
.OTHER { fill: #bab0ac; background: #bab0ac; } .IDLE { fill: #f1f1f1; background: #f1f1f1; }
)";

std::string pct(double x) {
  return fmt::format("{:.1f}%", 100 * x);
}

// 1, 2 or 5 × 10^k ms so that the axis gets about eight ticks.
double tick_step_ms(double span_ms) {
  const double raw  = std::max(span_ms, 1e-6) / 8;
  const double base = std::pow(10.0, std::floor(std::log10(raw)));
  for (double f : {1.0, 2.0, 5.0, 10.0})
    if (f * base >= raw) return f * base;
  return 10 * base;
}

// A stacked bar of the device's time: busy, communicating, waiting, idle.
std::string utilization_bar(const DeviceUsage& u, double y) {
  std::string s =
      fmt::format(R"(<g class="util-bar"><title>busy {} · comm {} · waiting {} · idle {}</title>)",
                  pct(u.busy), pct(u.comm), pct(u.wait), pct(u.idle));
  double x                                     = kUtilX;
  const std::pair<const char*, double> parts[] = {
      {"busy", u.busy}, {"commu", u.comm}, {"waiting", u.wait}, {"idle", u.idle}};
  for (auto [cls, frac] : parts) {
    const double w = frac * kUtilWidth;
    if (w > 0)
      s += fmt::format(R"(<rect class="{}" x="{:.2f}" y="{:.1f}" width="{:.2f}" height="{}"/>)", cls, x, y, w,
                       kComputeH);
    x += w;
  }
  s += fmt::format(R"(<rect x="{}" y="{:.1f}" width="{}" height="{}" style="fill:none;stroke:#999"/>)",
                   kUtilX, y, kUtilWidth, kComputeH);
  s += fmt::format(R"(<text x="{}" y="{:.1f}">{} busy</text></g>)", kUtilX + kUtilWidth + 6,
                   y + kComputeH - 5, pct(u.busy));
  return s;
}

std::string timeline_svg(const TraceSet& set, const Analysis& a, double axis_ms, int index) {
  const double lo        = static_cast<double>(a.window_begin_ns);
  const double px_per_ns = kPlotWidth / (axis_ms * 1e6);
  const double row_h     = kComputeH + kCommH + kRowGap;
  const double height    = kAxisH + set.num_devices() * row_h + 4;
  const double width     = kUtilX + kUtilWidth + 80;
  std::string s =
      fmt::format(R"(<svg class="timeline" id="timeline-{}" width="{}" height="{}" viewBox="0 0 {} {}">)",
                  index, width, height, width, height);
  // Axis: ticks in ms over the shared span.
  const double step = tick_step_ms(axis_ms);
  for (double t = 0; t <= axis_ms + 1e-9; t += step) {
    const double x = kLabelWidth + t * 1e6 * px_per_ns;
    s += fmt::format(R"(<line class="tick" x1="{:.1f}" y1="{}" x2="{:.1f}" y2="{:.1f}"/>)", x, kAxisH - 6, x,
                     height);
    s += fmt::format(R"(<text class="axis" x="{:.1f}" y="{}" text-anchor="middle">{:g} ms</text>)", x,
                     kAxisH - 10, t);
  }
  s += fmt::format(R"(<text class="axis" x="{}" y="{}">utilization</text>)", kUtilX, kAxisH - 10);
  std::set<std::pair<int, int64_t>> critical;  // (device, begin) of compute events on the critical path
  for (const PathStep& p : a.critical_path.steps)
    if (is_compute(p.event.kind)) critical.insert({p.device, p.event.t_begin_ns});
  for (int d = 0; d < set.num_devices(); ++d) {
    const double y = kAxisH + d * row_h;
    s += fmt::format(R"(<text class="device" x="4" y="{:.1f}">{}</text>)", y + kComputeH - 5,
                     escape(set.devices[d].label()));
    const double window_px = (a.window_end_ns - a.window_begin_ns) * px_per_ns;
    s += fmt::format(R"(<rect class="lane" x="{}" y="{:.1f}" width="{:.1f}" height="{}"/>)", kLabelWidth, y,
                     window_px, kComputeH);
    s += fmt::format(R"(<rect class="lane" x="{}" y="{:.1f}" width="{:.1f}" height="{}"/>)", kLabelWidth,
                     y + kComputeH + 1, window_px, kCommH);
    s += utilization_bar(a.devices[d], y);
    for (const Event& e : set.events[d]) {
      const double b = std::max<double>(e.t_begin_ns, lo), en = std::min<double>(e.t_end_ns, a.window_end_ns);
      if (en < b) continue;
      const double x = kLabelWidth + (b - lo) * px_per_ns;
      const double w = std::max(0.6, (en - b) * px_per_ns);  // keep instantaneous transfers visible
      const bool on_compute_lane = e.track == Track::kCompute;
      const double ey            = on_compute_lane ? y : y + kComputeH + 1;
      const double eh            = on_compute_lane ? kComputeH : kCommH;
      std::string name           = std::string(kind_name(e.kind));
      if (e.stage >= 0 && e.microbatch >= 0 && is_compute(e.kind))
        name = fmt::format("{}{}{}", e.stage, kind_name(e.kind), e.microbatch);
      else if (e.peer >= 0)
        name += fmt::format(" peer {}", e.peer);
      const bool crit = is_compute(e.kind) && critical.count({d, e.t_begin_ns});
      s += fmt::format(
          R"(<rect class="ev {}{}" x="{:.2f}" y="{:.1f}" width="{:.2f}" height="{}"><title>{} · {:.3f} ms</title></rect>)",
          css_class(e.kind), crit ? " crit" : "", x, ey, w, eh, escape(name), e.duration_ns() / 1e6);
      if (on_compute_lane && w > 24 && e.stage >= 0 && e.microbatch >= 0 && is_compute(e.kind))
        s += fmt::format(
            R"(<text x="{:.1f}" y="{:.1f}" text-anchor="middle" style="font-size:10px;fill:#fff">{}</text>)",
            x + w / 2, y + kComputeH - 6, escape(name));
    }
  }
  s += "</svg>\n";
  return s;
}

std::string legend() {
  std::string s                                     = R"(<div class="legend">)";
  const std::pair<const char*, const char*> items[] = {
      {"F", "forward (F)"},         {"B", "backward (B)"}, {"I", "backward-input (I)"},
      {"W", "backward-weight (W)"}, {"OPT", "optimizer"},  {"P2P", "send / recv"},
      {"COLL", "collective"},       {"WAIT", "waiting"},   {"IDLE", "idle"}};
  for (auto [cls, text] : items) s += fmt::format(R"(<span><span class="sw {}"></span>{}</span>)", cls, text);
  s += R"(<span><span class="sw" style="border:2px solid #000"></span>critical path</span>)";
  s += R"(<span><span class="sw" style="background:#2e7d32"></span>busy (utilization bar)</span>)";
  s += R"(<span>upper lane: compute · lower lane: communication</span>)";
  return s + "</div>\n";
}

}  // namespace

std::string render_html_report(std::span<const ReportEntry> entries, const std::string& title) {
  PX_USER_CHECK(!entries.empty(), "the report needs at least one trace; give one or more trace files");
  std::vector<Analysis> analyses;
  double axis_ms = 0;
  for (const ReportEntry& e : entries) {
    analyses.push_back(analyze(e.set));
    axis_ms = std::max(axis_ms, (analyses.back().window_end_ns - analyses.back().window_begin_ns) / 1e6);
  }
  std::string h = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n";
  h += fmt::format("<title>{}</title>\n<style>{}</style></head><body>\n", escape(title), kStyle);
  h += fmt::format("<h1>{}</h1>\n<p class=\"sub\">{} trace{}; all timelines share one time axis.</p>\n",
                   escape(title), entries.size(), entries.size() == 1 ? "" : "s");
  h += "<table class=\"summary\"><tr><th>trace</th><th>layout</th><th>devices</th><th>step</th>"
       "<th>utilization</th><th>bubble</th><th>overlap</th><th>≥2 computing</th><th>speedup</th>"
       "<th>verdict</th></tr>\n";
  for (size_t i = 0; i < entries.size(); ++i) {
    const Analysis& a = analyses[i];
    h += fmt::format(
        "<tr><td><a href=\"#trace-{}\">{}</a></td><td>{}</td><td>{}</td><td>{:.3f} "
        "ms</td><td>{}</td><td>{}</td>"
        "<td>{}</td><td>{}</td><td>{}</td><td class=\"v\"><span class=\"badge {}\">{}</span></td></tr>\n",
        i, escape(entries[i].name), escape(a.layout), a.num_devices, a.step_ns / 1e6, pct(a.utilization),
        pct(a.bubble), a.overlap ? pct(*a.overlap) : "–", pct(a.parallel_fraction),
        a.speedup ? fmt::format("{:.2f}×", *a.speedup) : "–", verdict_class(a), verdict_word(a));
  }
  h += "</table>\n" + legend();
  for (size_t i = 0; i < entries.size(); ++i) {
    const Analysis& a = analyses[i];
    h += fmt::format("<section class=\"trace\" id=\"trace-{}\">\n<h2>{} — {}</h2>\n", i, escape(a.layout),
                     escape(entries[i].name));
    h += fmt::format("<p class=\"verdict {}\">{}</p>\n", verdict_class(a), escape(a.verdict));
    h += fmt::format("<p class=\"recommendation\">Recommendation: {}</p>\n", escape(a.recommendation));
    h += fmt::format(
        "<p class=\"figures\">step {:.3f} ms · utilization {} · bubble {} · overlap {} · critical path "
        "{:.3f} ms "
        "through {} device{}{}</p>\n",
        a.step_ns / 1e6, pct(a.utilization), pct(a.bubble), a.overlap ? pct(*a.overlap) : "–",
        a.critical_path.length_ns / 1e6, a.critical_path.devices_visited,
        a.critical_path.devices_visited == 1 ? "" : "s",
        a.speedup ? fmt::format(" · speedup {:.2f}× of ideal {:.0f}×", *a.speedup, a.ideal_speedup) : "");
    h += timeline_svg(entries[i].set, a, axis_ms, static_cast<int>(i));
    h += "</section>\n";
  }
  h += "</body></html>\n";
  return h;
}

}  // namespace paraxis::trace
