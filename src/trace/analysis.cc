// Utilization, concurrency, verdict and recommendation (docs/analysis.md defines each figure).
#include "paraxis/trace/analysis.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "paraxis/core/error.h"
#include "trace/intervals.h"

namespace paraxis::trace {

using detail::pct;
using detail::pipeline_utilization;

CriticalPath critical_path(const TraceSet& set, int64_t lo, int64_t hi, const FlowMatch& flows,
                           const WaitingSpans& waits);  // critical_path.cc
void judge(const TraceSet& set, Analysis& a);           // verdict.cc: kind, verdict, recommendation

namespace {

using detail::Interval;
using detail::Intervals;

struct DeviceSets {
  Intervals busy, wait, comm;
};

// waits: the device's spans from waiting_spans (WAIT events and the time before a peer arrived). Compute
// events are busy, except where a communication event on the compute track blocked them.
DeviceSets classify(const std::vector<Event>& events, const std::vector<std::pair<int64_t, int64_t>>& waits,
                    int64_t lo, int64_t hi) {
  Intervals busy, wait, comm, blocking;
  for (const Event& e : events) {
    Interval iv{e.t_begin_ns, e.t_end_ns};
    if (is_compute(e.kind))
      busy.push_back(iv);
    else if (e.kind != Kind::kWait)
      comm.push_back(iv);
    if (!is_compute(e.kind) && e.track == Track::kCompute) blocking.push_back(iv);
  }
  for (auto [b, e] : waits) wait.push_back({b, e});
  // A communication on the compute track (a tensor-parallel collective inside a layer's pass) blocked the
  // compute that encloses it: that time is not busy.
  busy = detail::subtract(detail::normalize(busy, lo, hi), detail::normalize(blocking, lo, hi));
  return {busy, detail::normalize(wait, lo, hi), detail::normalize(comm, lo, hi)};
}

// The analysis window: one step (--step), all marked steps, or the whole trace when none is marked.
void set_window(const TraceSet& set, int step, Analysis& a) {
  int64_t lo, hi;
  if (step >= 0) {
    PX_USER_CHECK(step < static_cast<int>(set.steps.size()),
                  "--step {} is out of range: the trace marks {} steps; use 0..{}", step, set.steps.size(),
                  static_cast<int>(set.steps.size()) - 1);
    lo = set.steps[step].t_begin_ns;
    hi = set.steps[step].t_end_ns;
  } else if (!set.steps.empty()) {
    lo          = set.steps.front().t_begin_ns;
    hi          = set.steps.back().t_end_ns;
    a.num_steps = static_cast<int>(set.steps.size());
  } else {
    std::tie(lo, hi) = set.span();
  }
  PX_USER_CHECK(hi > lo,
                "the trace's analysis window is empty ({} ns to {} ns); give a trace whose events last", lo,
                hi);
  a.window_begin_ns = lo;
  a.window_end_ns   = hi;
  a.step_ns         = static_cast<double>(hi - lo) / a.num_steps;
}

// One device's time in the window: busy, then waiting, then communicating, then idle (a device in several
// states counts once).
DeviceUsage device_usage(const DeviceInfo& info, const DeviceSets& s, int64_t lo, int64_t hi) {
  const double window = static_cast<double>(hi - lo);
  DeviceUsage u;
  u.info            = info;
  u.busy_ns         = detail::length(s.busy);
  u.wait_ns         = detail::length(s.wait) - detail::intersection_length(s.wait, s.busy);
  Intervals blocked = detail::unite(s.busy, s.wait, lo, hi);
  u.comm_total_ns   = detail::length(s.comm);
  u.comm_overlap_ns = detail::intersection_length(s.comm, s.busy);
  u.comm_ns         = u.comm_total_ns - detail::intersection_length(s.comm, blocked);
  u.idle_ns         = (hi - lo) - u.busy_ns - u.wait_ns - u.comm_ns;
  u.busy            = u.busy_ns / window;
  u.wait            = u.wait_ns / window;
  u.comm            = u.comm_ns / window;
  u.idle            = u.idle_ns / window;
  return u;
}

// Every device's usage and their means; returns each device's busy intervals for the concurrency sweep.
std::vector<Intervals> measure_devices(const TraceSet& set, const WaitingSpans& waits, Analysis& a) {
  const int64_t lo = a.window_begin_ns, hi = a.window_end_ns;
  std::vector<Intervals> busy_sets;
  int64_t comm_total = 0, comm_hidden = 0;
  for (int d = 0; d < a.num_devices; ++d) {
    DeviceSets s        = classify(set.events[d], waits[d], lo, hi);
    const DeviceUsage u = device_usage(set.devices[d], s, lo, hi);
    comm_total += u.comm_total_ns;
    comm_hidden += u.comm_overlap_ns;
    a.utilization += u.busy / a.num_devices;
    a.comm += u.comm / a.num_devices;
    a.wait += u.wait / a.num_devices;
    a.idle += u.idle / a.num_devices;
    a.devices.push_back(u);
    busy_sets.push_back(std::move(s.busy));
  }
  a.bubble = 1 - a.utilization;
  if (comm_total > 0) a.overlap = static_cast<double>(comm_hidden) / comm_total;
  return busy_sets;
}

// The pipeline's shape as the trace shows it: stages (pipeline coordinates, or stage numbers of compute
// events) and micro-batches, for the closed-form bubble and the recommendation.
void pipeline_shape(const TraceSet& set, Analysis& a) {
  std::set<int> stages, pp_coords;
  int max_mb = -1;
  for (int d = 0; d < a.num_devices; ++d) {
    pp_coords.insert(set.devices[d].pp);
    for (const Event& e : set.events[d])
      if (is_compute(e.kind) && e.kind != Kind::kOptStep && e.kind != Kind::kOther) {
        if (e.stage >= 0) stages.insert(e.stage);
        max_mb = std::max(max_mb, e.microbatch);
      }
  }
  a.pipeline_stages = static_cast<int>(std::max(pp_coords.size(), stages.size()));
  a.microbatches    = std::max(1, max_mb + 1);
}

// Sweep: how many devices compute at each instant.
void measure_concurrency(const std::vector<Intervals>& busy_sets, Analysis& a) {
  const int64_t lo    = a.window_begin_ns;
  const double window = static_cast<double>(a.window_end_ns - lo);
  std::vector<std::pair<int64_t, int>> edges;
  for (const Intervals& b : busy_sets)
    for (const Interval& iv : b) {
      edges.push_back({iv.begin, +1});
      edges.push_back({iv.end, -1});
    }
  std::sort(edges.begin(), edges.end());
  int64_t t_multi = 0, t_single = 0, area = 0, prev = lo;
  int count = 0;
  for (auto [t, delta] : edges) {
    const int64_t dt = t - prev;
    if (count >= 2) t_multi += dt;
    if (count == 1) t_single += dt;
    area += dt * count;
    count += delta;
    prev = t;
  }
  a.parallel_fraction = t_multi / window;
  a.single_fraction   = t_single / window;
  a.none_fraction     = 1 - a.parallel_fraction - a.single_fraction;
  a.mean_computing    = area / window;
  a.parallel          = t_multi > 0 && t_multi >= t_single;
}

// HALO and LAYOUT events (domain parallelism's in-pass exchanges) per device and step. Over the whole run
// every one counts: a device may start the first step well before the step's mark (another device's thread
// started later) and wait in its first exchange. In one step's window (--step) those whose midpoint is in it.
void count_halos(const TraceSet& set, bool whole_run, Analysis& a) {
  for (const auto& events : set.events)
    for (const Event& e : events) {
      const int64_t mid = e.t_begin_ns + e.duration_ns() / 2;
      if (!whole_run && (mid < a.window_begin_ns || mid >= a.window_end_ns)) continue;
      const bool halo = e.kind == Kind::kHalo;
      if (!halo && e.kind != Kind::kLayout) continue;
      (halo ? a.halo_events : a.layout_events) += 1;
      (halo ? a.halo_ns : a.layout_ns) += static_cast<double>(e.duration_ns());
      (halo ? a.halo_bytes : a.layout_bytes) += static_cast<double>(e.bytes);
    }
  const double per = static_cast<double>(a.num_devices) * a.num_steps;
  a.halo_events /= per, a.halo_ns /= per, a.halo_bytes /= per;
  a.layout_events /= per, a.layout_ns /= per, a.layout_bytes /= per;
}

}  // namespace

Analysis analyze(const TraceSet& set, const AnalysisOptions& options) {
  PX_USER_CHECK(set.num_devices() > 0, "the trace has no devices; give a trace with at least one event");
  PX_CHECK(set.devices.size() == set.events.size(), "trace has {} device descriptions for {} event lists",
           set.devices.size(), set.events.size());
  Analysis a;
  a.layout         = set.layout.empty() ? "unnamed layout" : set.layout;
  a.source         = set.source;
  a.num_devices    = set.num_devices();
  a.ideal_speedup  = a.num_devices;
  a.dropped_events = set.dropped_events;

  set_window(set, options.step, a);
  const FlowMatch flows                  = match_flows(set);
  const WaitingSpans waits               = waiting_spans(set, flows);
  const std::vector<Intervals> busy_sets = measure_devices(set, waits, a);
  pipeline_shape(set, a);
  measure_concurrency(busy_sets, a);
  count_halos(set, options.step < 0, a);

  a.one_device_step_ns = options.one_device_step_ns ? options.one_device_step_ns : set.one_device_step_ns;
  if (a.one_device_step_ns) a.speedup = *a.one_device_step_ns / a.step_ns;

  a.unmatched_sends = flows.unmatched_sends;
  a.unmatched_recvs = flows.unmatched_recvs;
  a.critical_path   = critical_path(set, a.window_begin_ns, a.window_end_ns, flows, waits);

  judge(set, a);
  return a;
}

namespace {
struct Lines {
  std::string text;
  template <typename... T>
  void operator()(fmt::format_string<T...> f, T&&... args) {
    text += fmt::format(f, std::forward<T>(args)...);
    text += '\n';
  }
};
}  // namespace

std::string format_analysis(const Analysis& a) {
  Lines line;
  line("layout: {} ({}), {} device{}, step {:.3f} ms{}", a.layout, a.source, a.num_devices,
       a.num_devices == 1 ? "" : "s", a.step_ns / 1e6,
       a.num_steps > 1 ? fmt::format(" (mean of {} steps)", a.num_steps) : "");
  line("{}", "");
  line("{:<26} {:>8} {:>8} {:>8} {:>8} {:>9}", "device", "busy", "comm", "waiting", "idle", "overlap");
  for (const DeviceUsage& u : a.devices)
    line("{:<26} {:>8} {:>8} {:>8} {:>8} {:>9}", u.info.label(), pct(u.busy), pct(u.comm), pct(u.wait),
         pct(u.idle),
         u.comm_total_ns > 0 ? pct(static_cast<double>(u.comm_overlap_ns) / u.comm_total_ns) : "-");
  line("{:<26} {:>8} {:>8} {:>8} {:>8} {:>9}", "mean", pct(a.utilization), pct(a.comm), pct(a.wait),
       pct(a.idle), a.overlap ? pct(*a.overlap) : "-");
  line("{}", "");
  std::string closed;
  if (a.pipeline_stages >= 2)
    closed = fmt::format(" (1F1B/GPipe closed form (p−1)/(m+p−1) = {} for p={}, m={})",
                         pct(1 - pipeline_utilization(a.microbatches, a.pipeline_stages)), a.pipeline_stages,
                         a.microbatches);
  line("pipeline bubble:   {} of device time without compute{}", pct(a.bubble), closed);
  if (a.overlap)
    line("overlap:           {} of communication time ran while the same device computed", pct(*a.overlap));
  else
    line("overlap:           no communication in the trace");
  line(
      "concurrency:       ≥2 devices computing {}, exactly one {}, none {}; {:.2f} devices compute on "
      "average",
      pct(a.parallel_fraction), pct(a.single_fraction), pct(a.none_fraction), a.mean_computing);
  if (a.halo_events > 0 || a.layout_events > 0)
    line(
        "domain exchanges:  {:.1f} HALO (halo exchanges) and {:.1f} LAYOUT events (layout changes) per "
        "device "
        "per step, {:.3f} ms, {:.3g} MB moved; counted as communication (each blocks the pass it is in)",
        a.halo_events, a.layout_events, (a.halo_ns + a.layout_ns) / 1e6,
        (a.halo_bytes + a.layout_bytes) / 1e6);
  if (a.speedup)
    line("speedup:           {:.2f}× over one device ({:.3f} ms); ideal {:.0f}× → {} of ideal", *a.speedup,
         *a.one_device_step_ns / 1e6, a.ideal_speedup, pct(*a.speedup / a.ideal_speedup));
  else
    line(
        "speedup:           unknown (give --one-device-ms); ideal {:.0f}×, at most {:.2f}× if one device "
        "computes "
        "as fast",
        a.ideal_speedup, a.mean_computing);
  const CriticalPath& cp = a.critical_path;
  line(
      "critical path:     {:.3f} ms = {} of the window, {} events on {} device{}: compute {:.3f} ms, "
      "communication {:.3f} ms, waiting {:.3f} ms, gaps {:.3f} ms",
      cp.length_ns / 1e6, pct(cp.length_ns / static_cast<double>(a.window_end_ns - a.window_begin_ns)),
      cp.steps.size(), cp.devices_visited, cp.devices_visited == 1 ? "" : "s", cp.compute_ns / 1e6,
      cp.comm_ns / 1e6, cp.wait_ns / 1e6, cp.gap_ns / 1e6);
  std::string chain;
  const size_t n = cp.steps.size(), shown = 8;
  for (size_t i = 0; i < n; ++i) {
    if (n > 2 * shown && i == shown) {
      chain += fmt::format(" → … ({} more)", n - 2 * shown);
      i = n - shown;
    }
    const PathStep& s = cp.steps[i];
    std::string name  = std::string(kind_name(s.event.kind));
    if (s.event.stage >= 0 && s.event.microbatch >= 0 && is_compute(s.event.kind))
      name = fmt::format("{}{}{}", s.event.stage, name, s.event.microbatch);
    chain += fmt::format("{}d{}:{} {:.2f}", i == 0 ? "" : (s.cross_device ? " ⇒ " : " → "), s.device, name,
                         s.event.duration_ns() / 1e6);
  }
  if (!chain.empty()) line("  {}  (ms; ⇒ crosses devices)", chain);
  if (a.unmatched_sends + a.unmatched_recvs > 0)
    line("warning: {} sends and {} receives have no partner in the trace", a.unmatched_sends,
         a.unmatched_recvs);
  if (a.dropped_events > 0)
    line("warning: the recorder dropped {} events (buffer full); the figures undercount", a.dropped_events);
  line("{}", "");
  line("verdict:           {}", a.verdict);
  line("recommendation:    {}", a.recommendation);
  return line.text;
}

}  // namespace paraxis::trace
