#include "paraxis/trace/synthetic.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "paraxis/core/error.h"

namespace paraxis::trace {
namespace {

constexpr int64_t kOrigin = 1'000'000'000;  // traces do not start at 0 on a real clock either

int64_t ns(double x) {
  return static_cast<int64_t>(std::llround(x));
}

Event make(Kind kind, int stage, int mb, int64_t begin, int64_t end) {
  Event e;
  e.kind       = kind;
  e.track      = default_track(kind);
  e.stage      = static_cast<int16_t>(stage);
  e.microbatch = mb;
  e.t_begin_ns = begin;
  e.t_end_ns   = end;
  return e;
}

Event transfer(Kind kind, int stage, int mb, int peer, int seq, int64_t begin, int64_t end) {
  Event e = make(kind, stage, mb, begin, end);
  e.peer  = static_cast<int16_t>(peer);
  e.seq   = seq;
  e.bytes = 1 << 20;
  return e;
}

void finish_set(TraceSet& set) {
  auto [lo, hi] = set.span();
  set.steps     = {{lo, hi}};
}

}  // namespace

TraceSet synthetic_pipeline(const PipelineShape& s) {
  PX_USER_CHECK(s.stages >= 1 && s.microbatches >= 1,
                "synthetic pipeline needs p >= 1 and m >= 1, got p={} m={}", s.stages, s.microbatches);
  PX_USER_CHECK(s.schedule == "1f1b" || s.schedule == "gpipe", "schedule '{}' is unknown; use 1f1b or gpipe",
                s.schedule);
  const int p = s.stages, m = s.microbatches;
  // Each device's compute actions in order: (is_backward, micro-batch).
  std::vector<std::vector<std::pair<bool, int>>> order(p);
  for (int r = 0; r < p; ++r) {
    if (s.schedule == "gpipe") {
      for (int j = 0; j < m; ++j) order[r].push_back({false, j});
      for (int j = 0; j < m; ++j) order[r].push_back({true, j});
      continue;
    }
    const int warmup =
        std::min(p - 1 - r, m);  // 1F1B: stage r runs p − 1 − r forwards before its first backward
    for (int j = 0; j < warmup; ++j) order[r].push_back({false, j});
    for (int i = 0; i < m - warmup; ++i) {
      order[r].push_back({false, warmup + i});
      order[r].push_back({true, i});
    }
    for (int j = m - warmup; j < m; ++j) order[r].push_back({true, j});
  }
  // end times of F(r, j) and B(r, j); -1 = not yet run
  std::vector<std::vector<int64_t>> f_end(p, std::vector<int64_t>(m, -1)), b_end = f_end;
  std::vector<size_t> next(p, 0);
  std::vector<int64_t> free_at(p, kOrigin);
  TraceSet set;
  set.layout = m == 1 ? fmt::format("placement pp={}", p) : fmt::format("{} pp={} m={}", s.schedule, p, m);
  set.source = "simulated";
  set.events.resize(p);
  for (int r = 0; r < p; ++r) set.devices.push_back({r, 0, 0, r});
  const int64_t c = ns(s.comm_ns);
  for (bool progress = true; progress;) {
    progress = false;
    for (int r = 0; r < p; ++r) {
      while (next[r] < order[r].size()) {
        auto [backward, j] = order[r][next[r]];
        int64_t ready;
        if (!backward)
          ready = r == 0 ? kOrigin : (f_end[r - 1][j] < 0 ? -1 : f_end[r - 1][j] + c);
        else
          ready = r == p - 1 ? f_end[r][j] : (b_end[r + 1][j] < 0 ? -1 : b_end[r + 1][j] + c);
        if (ready < 0) break;  // its input has not been produced yet
        if (backward && f_end[r][j] < 0) break;
        const int64_t begin = std::max(free_at[r], ready);
        const double weight = r < static_cast<int>(s.stage_weight.size()) ? s.stage_weight[r] : 1.0;
        const int64_t end   = begin + ns(weight * (backward ? s.backward_ns : s.forward_ns));
        set.events[r].push_back(make(backward ? Kind::kBackward : Kind::kForward, r, j, begin, end));
        (backward ? b_end : f_end)[r][j] = end;
        free_at[r]                       = end;
        // The output travels on the comm thread while the device goes on computing.
        const int to = backward ? r - 1 : r + 1;
        if (to >= 0 && to < p) {
          set.events[r].push_back(transfer(Kind::kSend, r, j, to, j, end, end + c));
          set.events[to].push_back(transfer(Kind::kRecv, to, j, r, j, end, end + c));
        }
        ++next[r];
        progress = true;
      }
    }
  }
  for (int r = 0; r < p; ++r)
    PX_CHECK(next[r] == order[r].size(), "synthetic pipeline deadlocked on stage {} (p={} m={})", r, p, m);
  if (s.opt_ns > 0)
    for (int r = 0; r < p; ++r)
      set.events[r].push_back(make(Kind::kOptStep, r, -1, free_at[r], free_at[r] + ns(s.opt_ns)));
  double weights = 0;
  for (int r = 0; r < p; ++r)
    weights += r < static_cast<int>(s.stage_weight.size()) ? s.stage_weight[r] : 1.0;
  set.one_device_step_ns = m * weights * (s.forward_ns + s.backward_ns) + s.opt_ns * p;
  finish_set(set);
  return set;
}

TraceSet synthetic_tensor_parallel(const TensorParallelShape& s) {
  PX_USER_CHECK(s.devices >= 1 && s.layers >= 1,
                "synthetic tp needs t >= 1 and layers >= 1, got t={} layers={}", s.devices, s.layers);
  TraceSet set;
  set.layout = fmt::format("tp={}", s.devices);
  set.source = "simulated";
  set.events.resize(s.devices);
  for (int k = 0; k < s.devices; ++k) set.devices.push_back({k, 0, k, 0});
  int64_t t  = kOrigin;
  int seq    = 0;
  auto phase = [&](Kind kind, double compute_ns) {
    for (int layer = 0; layer < s.layers; ++layer) {
      const int64_t compute_end = t + ns(compute_ns);
      const int64_t comm_end    = compute_end + ns(s.allreduce_ns);
      for (int k = 0; k < s.devices; ++k) {
        Event piece = make(kind, 0, 0, t, compute_end);
        set.events[k].push_back(piece);
        Event ar = make(Kind::kAllReduce, 0, 0, compute_end, comm_end);
        ar.seq   = seq;
        ar.bytes = 4 << 20;
        set.events[k].push_back(ar);
      }
      ++seq;
      t = comm_end;
    }
  };
  phase(Kind::kForward, s.forward_ns);
  phase(Kind::kBackward, s.backward_ns);
  set.one_device_step_ns = static_cast<double>(s.layers) * s.devices * (s.forward_ns + s.backward_ns);
  finish_set(set);
  return set;
}

TraceSet synthetic_data_parallel(const DataParallelShape& s) {
  PX_USER_CHECK(s.devices >= 1 && s.buckets >= 1,
                "synthetic dp needs d >= 1 and buckets >= 1, got d={} buckets={}", s.devices, s.buckets);
  TraceSet set;
  set.layout = fmt::format("dp={}", s.devices);
  set.source = "simulated";
  set.events.resize(s.devices);
  for (int k = 0; k < s.devices; ++k) {
    set.devices.push_back({k, k, 0, 0});
    auto& ev          = set.events[k];
    int64_t t         = kOrigin + ns(s.forward_ns);
    int64_t comm_free = t;
    ev.push_back(make(Kind::kForward, 0, 0, kOrigin, t));
    for (int b = 0; b < s.buckets; ++b) {
      const int64_t end = t + ns(s.backward_ns / s.buckets);
      ev.push_back(make(Kind::kBackward, 0, 0, t, end));
      t                = end;
      const int64_t ar = std::max(comm_free, t);  // one all-reduce at a time on the comm thread
      comm_free        = ar + ns(s.allreduce_ns);
      Event e          = make(Kind::kAllReduce, 0, -1, ar, comm_free);
      e.seq            = b;
      e.flow_id        = b;  // one call of both replicas
      e.bytes          = 8 << 20;
      ev.push_back(e);
    }
    // The optimizer needs every bucket: the device blocks until the last all-reduce is done. Its members
    // entered together, so that time is exposed communication (the all-reduce event), not waiting.
    t = std::max(t, comm_free);
    ev.push_back(make(Kind::kOptStep, 0, -1, t, t + ns(s.opt_ns)));
  }
  set.one_device_step_ns = s.devices * (s.forward_ns + s.backward_ns) + s.opt_ns;
  finish_set(set);
  return set;
}

TraceSet repeat_steps(const TraceSet& one, int steps) {
  PX_USER_CHECK(steps >= 1, "a repeated trace needs 1 or more steps, got {}", steps);
  auto [lo, hi]     = one.span();
  int64_t seq_count = 0, flow_count = 0;
  for (const auto& events : one.events)
    for (const Event& e : events) {
      seq_count  = std::max<int64_t>(seq_count, e.seq + 1);
      flow_count = std::max<int64_t>(flow_count, e.flow_id + 1);
    }
  TraceSet out = one;
  out.steps.clear();
  for (auto& events : out.events) events.clear();
  for (int k = 0; k < steps; ++k) {
    const int64_t shift = k * (hi - lo);
    out.steps.push_back({lo + shift, hi + shift});
    for (size_t d = 0; d < one.events.size(); ++d)
      for (Event e : one.events[d]) {
        e.t_begin_ns += shift;
        e.t_end_ns += shift;
        if (e.seq >= 0) e.seq += static_cast<int32_t>(k * seq_count);
        if (e.flow_id >= 0) e.flow_id += k * flow_count;
        out.events[d].push_back(e);
      }
  }
  return out;
}

}  // namespace paraxis::trace
