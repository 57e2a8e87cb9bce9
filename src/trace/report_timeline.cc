// The report's timeline of one trace window: a time axis, then per device a compute lane, a communication
// lane and a utilization bar. Positions are those of the whole window on the plot; every positioned element
// also carries its times (data-b, data-e: ms from the window's start, clipped to it) for report_view.js,
// which lays them out again when the reader zooms or pans.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "trace/report_parts.h"

namespace paraxis::trace::report {
namespace {

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
    case Kind::kHalo:
    case Kind::kLayout:
      return "P2P";
    case Kind::kWait:
      return "WAIT";
    case Kind::kOther:
      return "OTHER";
    default:
      return "COLL";
  }
}

// "0F3" for a compute action of a stage and micro-batch ("" otherwise): also the label written inside it.
std::string action_name(const Event& e) {
  if (e.stage >= 0 && e.microbatch >= 0 && is_compute(e.kind))
    return fmt::format("{}{}{}", e.stage, kind_name(e.kind), e.microbatch);
  return "";
}

std::string tooltip(const Event& e) {
  std::string name = action_name(e);
  if (name.empty())
    name = e.peer >= 0 ? fmt::format("{} peer {}", kind_name(e.kind), e.peer) : kind_name(e.kind);
  return fmt::format("{} · {:.3f} ms", escape(name), e.duration_ns() / 1e6);
}

// Drawn when it overlaps the window; an instantaneous event also on its edges. An event that only touches
// an edge belongs to the neighbouring step.
bool in_window(const Event& e, int64_t lo, int64_t hi) {
  if (e.t_end_ns == e.t_begin_ns) return e.t_begin_ns >= lo && e.t_begin_ns <= hi;
  return e.t_end_ns > lo && e.t_begin_ns < hi;
}

// Where a device's row draws: the window [lo, hi] in ns at px_per_ns, the row's top y.
struct RowGeometry {
  int64_t lo = 0, hi = 0;
  double px_per_ns = 0;
  double y         = 0;
};

// Ticks in ms over the shared axis (report_view.js redraws them for the view it shows).
std::string axis_svg(double axis_ms, double height) {
  std::string s      = R"(<g class="axis">)";
  const double step  = tick_step_ms(axis_ms);
  const double px_ms = kPlotWidth / axis_ms;
  for (int k = 0; k * step <= axis_ms + 1e-9; ++k) {
    const double x = kLabelWidth + k * step * px_ms;
    s += fmt::format(R"(<line class="tick" x1="{:.1f}" y1="{}" x2="{:.1f}" y2="{:.1f}"/>)", x, kAxisH - 6, x,
                     height);
    s += fmt::format(R"(<text class="axis" x="{:.1f}" y="{}" text-anchor="middle">{:g} ms</text>)", x,
                     kAxisH - 10, k * step);
  }
  return s + "</g>";
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

// One event: its rect (outlined when on the critical path and wide enough) and, when it fits, its name.
std::string event_svg(const Event& e, const RowGeometry& g, bool critical) {
  const int64_t b = std::max(e.t_begin_ns, g.lo), en = std::min(e.t_end_ns, g.hi);
  const double x          = kLabelWidth + (b - g.lo) * g.px_per_ns;
  const double w          = std::max(kMinEventPx, (en - b) * g.px_per_ns);
  const bool compute_lane = e.track == Track::kCompute;
  const double y          = compute_lane ? g.y : g.y + kComputeH + 1;
  const std::string name  = compute_lane ? action_name(e) : "";
  const bool outlined     = critical && w >= kCritMinPx;
  std::string s =
      fmt::format(R"(<rect class="ev {}{}" x="{:.2f}" y="{:.1f}" width="{:.2f}" height="{}" )",
                  css_class(e.kind), outlined ? " crit" : "", x, y, w, compute_lane ? kComputeH : kCommH);
  s += fmt::format(R"(data-b="{:.6f}" data-e="{:.6f}")", (b - g.lo) / 1e6, (en - g.lo) / 1e6);
  if (critical) s += R"( data-c="1")";
  if (!name.empty()) s += fmt::format(R"( data-n="{}")", escape(name));
  s += fmt::format("><title>{}</title></rect>", tooltip(e));
  if (!name.empty() && w >= kLabelMinPx)
    s += fmt::format(R"(<text class="evl" x="{:.1f}" y="{:.1f}">{}</text>)", x + w / 2, y + kComputeH - 6,
                     escape(name));
  return s;
}

// The part of a transfer or collective spent blocked on a peer (waiting_spans), drawn over the comm lane in
// the waiting colour: a receive posted before its send shows red until the send began, then its own colour.
std::string waiting_svg(const std::vector<std::pair<int64_t, int64_t>>& spans, const RowGeometry& g) {
  std::string s;
  for (auto [begin, end] : spans) {
    const int64_t b = std::max(begin, g.lo), en = std::min(end, g.hi);
    if (en <= b) continue;
    s += fmt::format(
        R"(<rect class="waitspan WAIT" x="{:.2f}" y="{:.1f}" width="{:.2f}" height="{}" data-b="{:.6f}" )"
        R"(data-e="{:.6f}"><title>waiting for a peer · {:.3f} ms</title></rect>)",
        kLabelWidth + (b - g.lo) * g.px_per_ns, g.y + kComputeH + 1, (en - b) * g.px_per_ns, kCommH,
        (b - g.lo) / 1e6, (en - g.lo) / 1e6, (end - begin) / 1e6);
  }
  return s;
}

// Everything drawn for device d: label, lanes, utilization bar, its events in the window and their waiting
// parts. The one place that decides how a device's time looks.
std::string device_row(const TraceSet& set, const Analysis& a, int d, const RowGeometry& g,
                       const std::set<std::pair<int, int64_t>>& critical, const WaitingSpans& waiting) {
  std::string s          = fmt::format(R"(<g class="device"><text class="device" x="4" y="{:.1f}">{}</text>)",
                                       g.y + kComputeH - 5, escape(set.devices[d].label()));
  const double window_px = (g.hi - g.lo) * g.px_per_ns, window_ms = (g.hi - g.lo) / 1e6;
  for (auto [lane_y, lane_h] : {std::pair{g.y, kComputeH}, std::pair{g.y + kComputeH + 1, kCommH}})
    s += fmt::format(
        R"(<rect class="lane" x="{}" y="{:.1f}" width="{:.1f}" height="{}" data-b="0" data-e="{:.6f}"/>)",
        kLabelWidth, lane_y, window_px, lane_h, window_ms);
  s += utilization_bar(a.devices[d], g.y);
  for (const Event& e : set.events[d]) {
    if (!in_window(e, g.lo, g.hi)) continue;
    s += event_svg(e, g, is_compute(e.kind) && critical.count({d, e.t_begin_ns}));
  }
  return s + waiting_svg(waiting[d], g) + "</g>\n";
}

}  // namespace

std::string timeline_svg(const TraceSet& set, const Analysis& a, double axis_ms, int index) {
  const double row_h  = kComputeH + kCommH + kRowGap;
  const double height = kAxisH + set.num_devices() * row_h + 4;
  const double width  = kUtilX + kUtilWidth + 80;
  std::string s       = fmt::format(
            R"(<svg class="timeline" id="timeline-{}" width="{}" height="{}" viewBox="0 0 {} {}" data-plot-x="{}" )"
                  R"(data-plot-w="{}" data-axis-ms="{:.6f}" data-axis-h="{}" data-min-px="{}" data-crit-px="{}" )"
                  R"(data-label-px="{}">)",
            index, width, height, width, height, kLabelWidth, kPlotWidth, axis_ms, kAxisH, kMinEventPx, kCritMinPx,
            kLabelMinPx);
  s += axis_svg(axis_ms, height);
  s += fmt::format(R"(<text class="axis" x="{}" y="{}">utilization</text>)", kUtilX, kAxisH - 10);
  std::set<std::pair<int, int64_t>> critical;  // (device, begin) of compute events on the critical path
  for (const PathStep& p : a.critical_path.steps)
    if (is_compute(p.event.kind)) critical.insert({p.device, p.event.t_begin_ns});
  RowGeometry g{a.window_begin_ns, a.window_end_ns, kPlotWidth / (axis_ms * 1e6), 0};
  const WaitingSpans waiting = waiting_spans(set);
  for (int d = 0; d < set.num_devices(); ++d) {
    g.y = kAxisH + d * row_h;
    s += device_row(set, a, d, g, critical, waiting);
  }
  return s + "</svg>\n";
}

double tick_step_ms(double span_ms) {
  const double raw  = std::max(span_ms, 1e-6) / 8;
  const double base = std::pow(10.0, std::floor(std::log10(raw)));
  for (double f : {1.0, 2.0, 5.0, 10.0})
    if (f * base >= raw) return f * base;
  return 10 * base;
}

}  // namespace paraxis::trace::report
