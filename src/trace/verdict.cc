// The verdict: what the layout is, what it achieved and why; a recommendation that changes the layout
// (docs/analysis.md, "Verdict").
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <map>
#include <set>

#include "paraxis/trace/analysis.h"
#include "trace/intervals.h"

namespace paraxis::trace {
using detail::pct;
using detail::pipeline_utilization;

namespace {

std::string schedule_name(const std::string& s) {
  if (s == "1f1b") return "1F1B";
  if (s == "gpipe") return "GPipe";
  if (s == "interleaved-1f1b") return "interleaved 1F1B";
  if (s == "zb-h1") return "ZB-H1";
  return s.empty() ? "streamed" : s;
}

bool is_pipeline(const LayoutInfo& l) {
  return l.pp > 1 && !l.placement;
}

// The trace's layout: its metadata, else its label, reconciled with what the events show (the devices' grid
// coordinates, the stages and micro-batches of compute events).
LayoutInfo resolve_layout(const TraceSet& set, const Analysis& a) {
  LayoutInfo l = set.layout_info.known ? set.layout_info : parse_layout_label(set.layout);
  if (!set.layout_info.known) {
    std::set<int> dps, tps, sps;
    for (const DeviceInfo& d : set.devices) {
      dps.insert(d.dp), tps.insert(d.tp);
      if (d.sp >= 0) sps.insert(d.sp);
    }
    l.dp = std::max<int>(l.dp, static_cast<int>(dps.size()));
    l.tp = std::max<int>(l.tp, static_cast<int>(tps.size()));
    l.sp = std::max<int>(l.sp, static_cast<int>(sps.size()));
    l.pp = std::max(l.pp, a.pipeline_stages);
    l.m  = std::max(l.m, a.microbatches);
  }
  if (l.pp > 1 && l.m <= 1) l.placement = true;
  if (l.m > 1) l.placement = false;
  l.known = true;
  return l;
}

// Per stage, the compute time (F B I W) inside the window; per device, the time spent sending.
struct StageWork {
  std::map<int, int64_t> compute_ns;
  int64_t send_ns     = 0;
  int sending_devices = 0;
};
StageWork stage_work(const TraceSet& set, int64_t lo, int64_t hi) {
  StageWork w;
  for (int d = 0; d < set.num_devices(); ++d) {
    int64_t sent = 0;
    for (const Event& e : set.events[d]) {
      const int64_t len = std::max<int64_t>(0, std::min(e.t_end_ns, hi) - std::max(e.t_begin_ns, lo));
      if (e.kind == Kind::kSend) sent += len;
      if (!is_compute(e.kind) || e.kind == Kind::kOptStep || e.kind == Kind::kOther) continue;
      w.compute_ns[e.stage >= 0 ? e.stage : set.devices[d].pp] += len;
    }
    w.send_ns += sent;
    w.sending_devices += sent > 0;
  }
  return w;
}

struct Loss {
  std::string cause, why;
  double share = 0;  // of the step, estimated
};

// The measured causes of a pipeline's loss, largest first.
std::vector<Loss> pipeline_losses(const TraceSet& set, Analysis& a) {
  const int p = a.layout_info.pp, m = a.layout_info.m;
  const StageWork w = stage_work(set, a.window_begin_ns, a.window_end_ns);
  int64_t total = 0, heaviest = 0;
  for (auto [s, ns] : w.compute_ns) {
    total += ns;
    if (ns > heaviest) heaviest = ns, a.heaviest_stage = s;
  }
  const int stages  = std::max<int>(1, static_cast<int>(w.compute_ns.size()));
  const double mean = static_cast<double>(total) / stages;
  if (total > 0) {
    a.stage_imbalance = heaviest / mean;
    a.heaviest_share  = static_cast<double>(heaviest) / total;
  }
  if (w.sending_devices > 0 && mean > 0) a.transfer_ratio = (w.send_ns / w.sending_devices) / mean;
  std::vector<Loss> out;
  out.push_back({"stage imbalance",
                 fmt::format("stage {} holds {} of the compute (imbalance {:.2f}x)", a.heaviest_stage,
                             pct(a.heaviest_share), a.stage_imbalance),
                 1 - 1 / a.stage_imbalance});
  const double bubble = 1 - pipeline_utilization(m, p);
  out.push_back({"bubble",
                 fmt::format("fill and drain idle {} of each device (p = {}, m = {})", pct(bubble), p, m),
                 bubble});
  out.push_back({"transfer",
                 fmt::format("transfers per micro-batch take {:.1f}x the compute", a.transfer_ratio),
                 a.transfer_ratio / (1 + a.transfer_ratio)});
  out.push_back(
      {"waiting", fmt::format("devices waited {} of the step", pct(a.wait)), a.wait - out[0].share - bubble});
  std::stable_sort(out.begin(), out.end(), [](const Loss& x, const Loss& y) { return x.share > y.share; });
  return out;
}

std::string achieved(const Analysis& a) {
  if (a.parallel)
    return fmt::format("two or more devices computed at the same time for {} of the step",
                       pct(a.parallel_fraction));
  const bool expected = a.layout_info.placement && a.layout_info.dp * a.layout_info.tp == 1;
  return fmt::format("{}at most one device computed at a time for {} of the step",
                     expected ? "" : "ran nearly serially — ", pct(a.single_fraction + a.none_fraction));
}

std::string pipeline_verdict(const TraceSet& set, Analysis& a) {
  const std::vector<Loss> losses = pipeline_losses(set, a);
  std::string v =
      fmt::format("{}: {}; utilization {} = {} of the closed-form ideal {}", a.kind, achieved(a),
                  pct(a.utilization), pct(a.utilization / a.pipeline_ideal), pct(a.pipeline_ideal));
  if (losses.front().share < 0.05) return v;
  a.cause = losses.front().cause;
  v += " — " + losses.front().why;
  for (size_t i = 1; i < losses.size(); ++i)
    if (losses[i].share >= 0.05 && losses[i].share >= 0.5 * losses.front().share) v += "; " + losses[i].why;
  return v;
}

struct Suggestion {
  std::string flags, why;
};

// A pipeline's recommendation: the change that addresses its largest cause, never its own flags.
Suggestion pipeline_suggestion(const Analysis& a) {
  const LayoutInfo& l = a.layout_info;
  const int p = l.pp, m = l.m;
  // The pipeline's devices moved to another axis (the device count stays); `--microbatches 1`, since the
  // flags are added to the run's own command, whose m would otherwise remain as gradient accumulation.
  const std::string other_axis = fmt::format("--tp {} --pp 1 --microbatches 1", l.tp * p),
                    data_axis  = fmt::format("--dp {} --pp 1 --microbatches 1", l.dp * p);
  if (a.cause == "transfer" && m >= 4)
    return {fmt::format("--microbatches {}", m / 2),
            fmt::format(
                "a larger batch per micro-batch halves the transfers per step (transfer {:.1f}x the compute "
                "of a micro-batch); or split another axis instead: {}",
                a.transfer_ratio, data_axis)};
  if (a.cause == "transfer" || a.cause == "stage imbalance" || a.cause == "waiting")
    return {data_axis, fmt::format("split the batch instead of the layers ({}), or each layer: {}", a.cause,
                                   other_axis)};
  if (a.cause == "bubble") {
    if (l.schedule != "interleaved-1f1b" && m % p == 0)
      return {"--schedule interleaved-1f1b --virtual 2",
              fmt::format("interleave 2 chunks per device to halve the bubble; or stream --microbatches {}: "
                          "utilization → {}",
                          std::max(4 * p, 2 * m), pct(pipeline_utilization(std::max(4 * p, 2 * m), p)))};
    return {fmt::format("--microbatches {}", std::max(4 * p, 2 * m)),
            fmt::format("more micro-batches shrink the fill and drain: utilization {} → {}",
                        pct(a.utilization), pct(pipeline_utilization(std::max(4 * p, 2 * m), p)))};
  }
  return {};
}

// The measured causes of a non-pipeline layout's loss (its devices' time not computing), largest first:
// communication not hidden behind compute, waiting for peers, and work spread unevenly over the devices.
std::vector<Loss> other_losses(const Analysis& a) {
  auto [lo, hi] =
      std::minmax_element(a.devices.begin(), a.devices.end(),
                          [](const DeviceUsage& x, const DeviceUsage& y) { return x.busy < y.busy; });
  std::vector<Loss> out = {
      {"exposed collectives",
       fmt::format("communication not hidden behind compute takes {} of the step (overlap {})", pct(a.comm),
                   a.overlap ? pct(*a.overlap) : std::string("n/a")),
       a.comm},
      {"waiting", fmt::format("devices waited for their peers {} of the step", pct(a.wait)), a.wait},
      {"device imbalance",
       fmt::format("{} computed {:.2f} ms per step, {} {:.2f} ms", hi->info.label(),
                   hi->busy_ns / 1e6 / a.num_steps, lo->info.label(), lo->busy_ns / 1e6 / a.num_steps),
       hi->busy - lo->busy},
  };
  std::stable_sort(out.begin(), out.end(), [](const Loss& x, const Loss& y) { return x.share > y.share; });
  return out;
}

// What a layout that is not a pipeline achieved, and for several devices its largest measured loss.
std::string other_verdict(Analysis& a) {
  std::string v = fmt::format("{}: {}; utilization {}", a.kind, achieved(a), pct(a.utilization));
  if (a.layout_info.placement) return v;  // the bubble is the layout itself (the recommendation says so)
  const std::vector<Loss> losses = other_losses(a);
  if (losses.front().share < 0.05) return v;
  a.cause = losses.front().cause;
  return v + " — " + losses.front().why;
}

// Layouts that are not pipelines: one device, placement, tp, dp and their mixes.
Suggestion other_suggestion(const Analysis& a) {
  const LayoutInfo& l = a.layout_info;
  if (a.num_devices == 1)
    return {"--pp 2 --microbatches 8",
            "one device: nothing to overlap; split the model over devices (or --tp 2, "
            "or the batch: --dp 2) to run in parallel"};
  if (l.placement) {
    const int p = l.pp, target = 4 * p;
    return {fmt::format("--schedule 1f1b --microbatches {}", target),
            fmt::format("stream {} micro-batches with 1F1B: utilization {} → {} (m/(m+p−1) with p={}; {} "
                        "micro-batches, 8p, would give {})",
                        target, pct(a.utilization), pct(pipeline_utilization(target, p)), p, 8 * p,
                        pct(pipeline_utilization(8 * p, p)))};
  }
  if (!a.parallel && l.sp > 1)
    return {fmt::format("--dp {} --sp 1", l.dp * l.sp),
            fmt::format("devices take turns ({} of the step with at most one computing): split the batch "
                        "instead of the image",
                        pct(a.single_fraction + a.none_fraction))};
  if (!a.parallel)
    return {l.dp > 1 ? fmt::format("--tp {} --dp 1", l.dp) : fmt::format("--dp {} --tp 1", l.tp),
            fmt::format("devices take turns ({} of the step with at most one computing): split another axis",
                        pct(a.single_fraction + a.none_fraction))};
  const double exposed  = a.comm + a.wait;
  const bool sync_cause = a.cause == "exposed collectives" || a.cause == "waiting";
  if (sync_cause && l.sp > 1)
    return {fmt::format("--dp {} --sp 1", l.dp * l.sp),
            fmt::format("{}: domain parallelism exchanges halos inside every convolution's pass ({} of the "
                        "step is communication or waiting); when the batch splits well, splitting it "
                        "instead all-reduces the gradients once per step, during the backward",
                        a.cause, pct(exposed))};
  if (sync_cause && l.tp > 1 && l.pp == 1)
    return {
        fmt::format("--dp {} --tp 1", l.dp * l.tp),
        fmt::format("{}: tensor parallelism synchronises its devices inside every layer's pass ({} of the "
                    "step is communication or waiting); splitting the batch instead all-reduces the "
                    "gradients once per step, during the backward",
                    a.cause, pct(exposed))};
  if (exposed > 0.10)
    return {"",
            fmt::format("overlap communication with compute: {} of the step is communication or waiting not "
                        "hidden behind compute (overlap {}); bucketed, asynchronous collectives during the "
                        "backward pass would bring utilization {} → up to {}",
                        pct(exposed), a.overlap ? pct(*a.overlap) : std::string("n/a"), pct(a.utilization),
                        pct(std::min(1.0, a.utilization / std::max(1e-9, 1 - exposed))))};
  auto [lo, hi] =
      std::minmax_element(a.devices.begin(), a.devices.end(),
                          [](const DeviceUsage& x, const DeviceUsage& y) { return x.busy < y.busy; });
  if (a.cause == "device imbalance")
    return {"", fmt::format("rebalance the work: {} computes {:.2f} ms but {} only {:.2f} ms per step",
                            hi->info.label(), hi->busy_ns / 1e6 / a.num_steps, lo->info.label(),
                            lo->busy_ns / 1e6 / a.num_steps)};
  return {};
}

}  // namespace

std::string layout_kind(const LayoutInfo& l, int devices) {
  if (devices <= 1 && l.dp * l.tp * l.pp * l.sp <= 1) return "one device";
  std::string pipe = l.pp <= 1     ? ""
                     : l.placement ? "workload partitioning"
                                   : fmt::format("pipeline ({}, m = {})", schedule_name(l.schedule), l.m);
  std::vector<std::string> parts;
  const int axes = (l.dp > 1) + (l.tp > 1) + (l.pp > 1) + (l.sp > 1);
  if (l.dp > 1) parts.push_back(axes == 1 ? "data parallel" : fmt::format("dp{}", l.dp));
  if (l.sp > 1) parts.push_back(axes == 1 ? "domain parallel" : fmt::format("sp{}", l.sp));
  if (l.tp > 1) parts.push_back(axes == 1 ? "tensor parallel" : fmt::format("tp{}", l.tp));
  if (!pipe.empty()) parts.push_back(pipe);
  if (parts.empty()) return devices > 1 ? "parallel" : "one device";
  return fmt::format("{}", fmt::join(parts, " x "));
}

void judge(const TraceSet& set, Analysis& a) {
  a.layout_info = resolve_layout(set, a);
  a.kind        = layout_kind(a.layout_info, a.num_devices);
  if (is_pipeline(a.layout_info)) a.pipeline_ideal = pipeline_utilization(a.layout_info.m, a.layout_info.pp);
  if (a.num_devices == 1)
    a.verdict = "one device: the baseline every layout is compared against";
  else if (is_pipeline(a.layout_info))
    a.verdict = pipeline_verdict(set, a);
  else
    a.verdict = other_verdict(a);
  Suggestion s      = is_pipeline(a.layout_info) ? pipeline_suggestion(a) : other_suggestion(a);
  a.suggested_flags = s.flags;
  if (s.why.empty())
    a.recommendation = fmt::format(
        "utilization {}: close to the ideal for this layout; nothing to fix in the "
        "schedule",
        pct(a.utilization));
  else if (s.flags.empty())
    a.recommendation = s.why;
  else
    a.recommendation = fmt::format("try `paraxis train ... {}`: {}", s.flags, s.why);
}

}  // namespace paraxis::trace
