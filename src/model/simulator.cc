#include "paraxis/model/simulator.h"

#include "paraxis/pipeline/trace_kind.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "paraxis/core/error.h"

namespace paraxis::model {

using pipeline::Action;
using pipeline::ActionKind;
using pipeline::Schedule;

SimInput SimInput::unit(const Schedule& s, StageDurations d) {
  SimInput in;
  in.stages.assign(s.num_stages, d);
  in.send_forward.assign(s.num_stages, 0.0);
  in.send_backward.assign(s.num_stages, 0.0);
  in.time_unit_ns = 1.0;
  in.layout       = "unit time";
  return in;
}

namespace {

constexpr double kUnknown = -1.0;

// Per (stage, micro-batch) times, flat.
struct Grid2 {
  int m = 0;
  std::vector<double> v;
  Grid2(int stages, int mbs) : m(mbs), v(static_cast<size_t>(stages) * mbs, kUnknown) {}
  double& at(int s, int k) { return v[static_cast<size_t>(s) * m + k]; }
};

// Per device: the share of its busy time during which another device is busy too (a sweep over all
// intervals' ends; the group is small: only CPU profiles, a node's devices, ask for it).
std::vector<double> overlap_fractions(const std::vector<std::vector<std::pair<double, double>>>& iv) {
  const int P = static_cast<int>(iv.size());
  struct Edge {
    double t;
    int device, delta;
  };
  std::vector<Edge> edges;
  std::vector<double> busy(P, 0.0), shared(P, 0.0);
  for (int d = 0; d < P; ++d)
    for (auto [a, b] : iv[d])
      if (b > a) {
        edges.push_back({a, d, +1});
        edges.push_back({b, d, -1});
        busy[d] += b - a;
      }
  std::sort(edges.begin(), edges.end(), [](const Edge& x, const Edge& y) {
    return x.t != y.t ? x.t < y.t : x.delta < y.delta;  // ends before starts at the same time
  });
  std::vector<int> active(P, 0);
  int count = 0;
  for (size_t i = 0; i + 1 < edges.size(); ++i) {
    active[edges[i].device] += edges[i].delta;
    count += edges[i].delta;
    const double len = edges[i + 1].t - edges[i].t;
    if (count >= 2 && len > 0)
      for (int d = 0; d < P; ++d)
        if (active[d] > 0) shared[d] += len;
  }
  std::vector<double> out(P, 0.0);
  for (int d = 0; d < P; ++d) out[d] = busy[d] > 0 ? std::min(1.0, shared[d] / busy[d]) : 0.0;
  return out;
}

}  // namespace

SimResult simulate(const Schedule& sched, const SimInput& in, bool record_trace) {
  const int P = sched.num_devices, S = sched.num_stages, M = sched.num_microbatches;
  PX_CHECK(static_cast<int>(in.stages.size()) == S, "simulate: {} stage durations for {} stages",
           in.stages.size(), S);
  PX_CHECK(P == 1 || sched.is_lowered() || S == 1,
           "simulate: a schedule over {} devices needs its SEND/RECV actions (pipeline::lower_send_recv)", P);
  auto send_time = [&](const std::vector<double>& v, int s) { return v.empty() ? 0.0 : v[s]; };
  auto bytes_of  = [&](const std::vector<int64_t>& v, int s) { return v.empty() ? int64_t{0} : v[s]; };

  Grid2 act_avail(S, M), grad_avail(S, M);   // input activation / output gradient on the stage's device
  Grid2 fwd_arrive(S, M), bwd_arrive(S, M);  // eager: transfer arrival; rendezvous: send issue time
  for (int k = 0; k < M; ++k) act_avail.at(0, k) = 0.0;

  // The action after which each stage's gradients are final (last B or W of the stage): buckets start there.
  std::vector<int> last_backward(S, -1);
  for (int d = 0; d < P; ++d)
    for (size_t i = 0; i < sched.actions[d].size(); ++i) {
      const Action& a = sched.actions[d][i];
      if (a.kind == ActionKind::kFullBackward || a.kind == ActionKind::kBackwardWeight)
        last_backward[a.stage] = static_cast<int>(i);
    }

  SimResult r;
  r.busy.assign(P, 0.0);
  r.comm.assign(P, 0.0);
  std::vector<double> compute_free(P, 0.0), p2p_free(P, 0.0), dp_free(P, 0.0);
  std::vector<size_t> pc(P, 0);
  std::vector<std::vector<trace::Event>> events(P);
  int64_t next_flow = 0;
  const double ns   = in.time_unit_ns;
  auto emit = [&](int d, trace::Kind kind, trace::Track track, double t0, double t1, int stage, int mb,
                  int64_t bytes = 0, int peer = -1, int64_t flow = -1) {
    if (!record_trace) return;
    trace::Event e;
    e.t_begin_ns = std::llround(t0 * ns);
    e.t_end_ns   = std::llround(t1 * ns);
    e.kind       = kind;
    e.track      = track;
    e.stage      = static_cast<int16_t>(stage);
    e.microbatch = mb;
    e.bytes      = bytes;
    e.peer       = static_cast<int16_t>(peer);
    e.flow_id    = flow;
    events[d].push_back(e);
  };
  std::vector<std::vector<std::pair<double, double>>> intervals(in.measure_overlap ? P : 0);
  std::vector<Grid2> flow_ids;
  flow_ids.emplace_back(S, M);
  flow_ids.emplace_back(S, M);

  // The data-parallel buckets of stage s that become ready during a compute action of device d running from
  // `ready` for `dur` (ready at the fractions `frac` of it); `at_flush`: the buckets of deferred blocks, else
  // the others. `end`: the action's end, later when buckets share its core.
  auto launch_buckets = [&](int d, int s, double ready, double dur, const std::vector<double>& frac,
                            bool at_flush, double& end) {
    const auto& times = in.grad_bucket_time[s];
    double stretch    = 0;  // compute delayed so far by buckets sharing its core
    for (size_t b = 0; b < times.size(); ++b) {
      const bool deferred = !in.grad_bucket_ready_flush.empty() && in.grad_bucket_ready_flush[s][b] >= 0;
      if (deferred != at_flush) continue;
      const double ready_at = ready + dur * frac[b] + stretch;
      const double t0       = std::max(ready_at, dp_free[d]);
      double t1             = t0 + times[b];
      if (in.buckets_share_core) {
        // Fair sharing of one core: until the shorter of the two finishes both run at half speed.
        const double overlap = std::min(times[b], std::max(0.0, end - t0));
        end += overlap;
        stretch += overlap;
        t1 += overlap;
      }
      dp_free[d] = t1;
      r.comm[d] += times[b];
      int64_t by = in.grad_bucket_bytes.empty() ? 0 : in.grad_bucket_bytes[s][b];
      emit(d, trace::Kind::kAllReduce, trace::Track::kComm, t0, t1, s, -1, by);
    }
  };
  // The deferred weight gradients of device d's stages, last stage first (the engine flushes last block
  // first), each launching its deferred blocks' buckets.
  std::vector<bool> flushed(P, in.flush.empty());
  auto flush = [&](int d) {
    if (flushed[d]) return;
    flushed[d] = true;
    for (int s = S; s-- > 0;) {
      if (sched.stage_device[s] != d) continue;
      double& t        = compute_free[d];
      const double dur = in.flush[s];
      double end       = t + dur;
      if (!in.grad_bucket_time.empty() && !in.grad_bucket_ready_flush.empty())
        launch_buckets(d, s, t, dur, in.grad_bucket_ready_flush[s], true, end);
      if (dur > 0) emit(d, trace::Kind::kBackwardWeight, trace::Track::kCompute, t, end, s, -1);
      if (in.measure_overlap && dur > 0) intervals[d].push_back({t, end});
      r.busy[d] += dur;
      t = end;
    }
  };

  // Tries to run the next action of device d; false when it must wait for another device.
  auto step = [&](int d) -> bool {
    const Action& a = sched.actions[d][pc[d]];
    const int s = a.stage, k = a.microbatch;
    double& t = compute_free[d];
    switch (a.kind) {
      case ActionKind::kForward:
      case ActionKind::kFullBackward:
      case ActionKind::kBackwardInput:
      case ActionKind::kBackwardWeight: {
        const StageDurations& sd = in.stages[s];
        double ready = t, dur = 0;
        if (a.kind == ActionKind::kForward) {
          if (act_avail.at(s, k) < 0) return false;
          ready = std::max(t, act_avail.at(s, k));
          dur   = sd.forward;
        } else if (a.kind == ActionKind::kBackwardWeight) {
          dur = sd.backward_weight;
        } else {
          if (grad_avail.at(s, k) < 0) return false;
          ready = std::max(t, grad_avail.at(s, k));
          dur   = a.kind == ActionKind::kFullBackward ? sd.backward : sd.backward_input;
        }
        double end = ready + dur;
        if (static_cast<int>(pc[d]) == last_backward[s] && !in.grad_bucket_time.empty()) {
          const bool w_pass = a.kind == ActionKind::kBackwardWeight && !in.grad_bucket_ready_w.empty();
          launch_buckets(d, s, ready, dur, w_pass ? in.grad_bucket_ready_w[s] : in.grad_bucket_ready[s],
                         false, end);
        }
        emit(d, pipeline::trace_kind(a.kind), trace::Track::kCompute, ready, end, s, k);
        if (in.measure_overlap) intervals[d].push_back({ready, end});
        r.busy[d] += dur;
        t = end;
        if (a.kind == ActionKind::kForward) {
          if (s + 1 < S && sched.stage_device[s + 1] == d) act_avail.at(s + 1, k) = end;
          if (s == S - 1) grad_avail.at(s, k) = end;  // the loss gradient
        } else if (a.kind != ActionKind::kBackwardWeight) {
          if (s > 0 && sched.stage_device[s - 1] == d) grad_avail.at(s - 1, k) = end;
        }
        return true;
      }
      case ActionKind::kSendForward:
      case ActionKind::kSendBackward: {
        const bool fwd                 = a.kind == ActionKind::kSendForward;
        const double tt                = send_time(fwd ? in.send_forward : in.send_backward, s);
        const int peer                 = sched.stage_device[fwd ? s + 1 : s - 1];
        const int64_t flow             = next_flow++;
        flow_ids[fwd ? 0 : 1].at(s, k) = static_cast<double>(flow);
        Grid2& arrive                  = fwd ? fwd_arrive : bwd_arrive;
        if (in.rendezvous) {
          arrive.at(s, k) = t;  // the receiver starts the copy once it is there
        } else {
          const double t0 = std::max(t, p2p_free[d]), t1 = t0 + tt;
          p2p_free[d] = t1;
          r.comm[d] += tt;
          arrive.at(s, k) = t1;
          emit(d, trace::Kind::kSend, trace::Track::kComm, t0, t1, s, k,
               bytes_of(fwd ? in.forward_bytes : in.backward_bytes, s), peer, flow);
        }
        return true;
      }
      case ActionKind::kRecvForward:
      case ActionKind::kRecvBackward: {
        const bool fwd   = a.kind == ActionKind::kRecvForward;
        const int src    = fwd ? s - 1 : s + 1;  // the sending stage
        Grid2& arrive    = fwd ? fwd_arrive : bwd_arrive;
        const double got = arrive.at(src, k);
        if (got < 0) return false;
        const int peer     = sched.stage_device[src];
        const int64_t flow = static_cast<int64_t>(flow_ids[fwd ? 0 : 1].at(src, k));
        const int64_t by   = bytes_of(fwd ? in.forward_bytes : in.backward_bytes, src);
        double end         = std::max(t, got);
        if (in.rendezvous) {
          const double tt = send_time(fwd ? in.send_forward : in.send_backward, src);
          const double t0 = end;
          end             = t0 + tt;
          r.comm[peer] += tt;
          emit(peer, trace::Kind::kSend, trace::Track::kComm, t0, end, src, k, by, d, flow);
        }
        emit(d, trace::Kind::kRecv, trace::Track::kComm, t, end, s, k, by, peer, flow);
        t                                       = end;
        (fwd ? act_avail : grad_avail).at(s, k) = end;
        return true;
      }
      case ActionKind::kReduceGrad:
        flush(d);
        return true;  // the buckets: launched as they become ready
      case ActionKind::kOptStep:
        return true;  // modelled below from SimInput (opt_step)
    }
    return true;
  };

  size_t remaining = 0;
  for (const auto& list : sched.actions) remaining += list.size();
  while (remaining > 0) {
    bool progressed = false;
    for (int d = 0; d < P; ++d)
      while (pc[d] < sched.actions[d].size() && step(d)) {
        ++pc[d];
        --remaining;
        progressed = true;
      }
    if (!progressed) {
      std::string stuck;
      for (int d = 0; d < P; ++d)
        if (pc[d] < sched.actions[d].size())
          stuck += fmt::format(" device {} at {}", d, pipeline::to_string(sched.actions[d][pc[d]]));
      PX_FAIL("simulate: the schedule cannot complete; stuck:{} (validate it with `paraxis schedule`)",
              stuck);
    }
  }

  for (int d = 0; d < P; ++d) flush(d);  // the engine flushes in its step's reduction after the last action
  r.compute_end = *std::max_element(compute_free.begin(), compute_free.end());
  for (int d = 0; d < P; ++d) {
    double end = std::max({compute_free[d], dp_free[d], p2p_free[d]});
    if (!in.opt_step.empty() && in.opt_step[d] > 0) {
      const double t0 = std::max(compute_free[d], dp_free[d]);
      emit(d, trace::Kind::kOptStep, trace::Track::kCompute, t0, t0 + in.opt_step[d], -1, -1);
      if (in.measure_overlap) intervals[d].push_back({t0, t0 + in.opt_step[d]});
      r.busy[d] += in.opt_step[d];
      end = std::max(end, t0 + in.opt_step[d]);
    }
    r.step_time = std::max(r.step_time, end);
  }
  if (in.measure_overlap) r.overlap = overlap_fractions(intervals);
  r.utilization.resize(P);
  double mean = 0;
  for (int d = 0; d < P; ++d) {
    r.utilization[d] = r.step_time > 0 ? r.busy[d] / r.step_time : 0.0;
    mean += r.utilization[d] / P;
  }
  r.bubble = 1.0 - mean;

  if (record_trace) {
    r.trace.layout = in.layout;
    r.trace.source = "simulated";
    r.trace.events = std::move(events);
    for (auto& list : r.trace.events)
      std::sort(list.begin(), list.end(),
                [](const trace::Event& a, const trace::Event& b) { return a.t_begin_ns < b.t_begin_ns; });
    for (int d = 0; d < P; ++d)
      r.trace.devices.push_back(static_cast<int>(in.devices.size()) > d ? in.devices[d]
                                                                        : trace::DeviceInfo{d, 0, 0, d});
    r.trace.steps.push_back({0, std::llround(r.step_time * ns)});
  }
  return r;
}

}  // namespace paraxis::model
