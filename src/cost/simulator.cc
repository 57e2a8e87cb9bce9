#include "paraxis/cost/simulator.h"

#include "paraxis/pipeline/trace_kind.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "paraxis/core/error.h"
#include "paraxis/pipeline/readiness.h"

namespace paraxis::cost {

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

namespace {

double at(const std::vector<double>& v, size_t i) {
  return i < v.size() ? v[i] : 0.0;
}

// One simulated step: the devices' lists in rounds, each action priced from SimInput.
class Sim {
 public:
  Sim(const Schedule& s, const SimInput& in, bool record)
      : s_(s),
        in_(in),
        record_(record),
        ready_(s),
        compute_free_(s.num_devices, 0.0),
        p2p_free_(s.num_devices, 0.0),
        dp_free_(s.num_devices, 0.0),
        pc_(s.num_devices, 0),
        launched_(s.num_devices),
        events_(s.num_devices),
        intervals_(in.measure_overlap ? s.num_devices : 0),
        flow_of_send_(2, std::vector<int64_t>(static_cast<size_t>(s.num_stages) * s.num_microbatches, -1)),
        action_of_send_(2, std::vector<int>(static_cast<size_t>(s.num_stages) * s.num_microbatches, -1)) {
    r_.busy.assign(s.num_devices, 0.0);
    r_.comm.assign(s.num_devices, 0.0);
    for (int d = 0; d < s.num_devices; ++d)
      launched_[d].assign(d < static_cast<int>(in.bucket_time.size()) ? in.bucket_time[d].size() : 0, 0);
    last_weight_pass_.assign(s.num_devices, {});
    for (int d = 0; d < s.num_devices; ++d)
      for (size_t k = 0; k < s.actions[d].size(); ++k) {
        const Action& a = s.actions[d][k];
        if (a.kind != ActionKind::kFullBackward && a.kind != ActionKind::kBackwardWeight) continue;
        std::vector<int>& last = last_weight_pass_[d];
        if (a.stage >= static_cast<int>(last.size())) last.resize(a.stage + 1, -1);
        last[a.stage] = static_cast<int>(k);
      }
  }

  SimResult run() {
    size_t remaining = 0;
    for (const auto& list : s_.actions) remaining += list.size();
    while (remaining > 0) {
      bool progressed = false;
      for (int d = 0; d < s_.num_devices; ++d)
        for (; pc_[d] < s_.actions[d].size() && step(d); ++pc_[d], --remaining) progressed = true;
      if (!progressed) fail_stuck();
    }
    return finish();
  }

 private:
  const Schedule& s_;
  const SimInput& in_;
  const bool record_;
  pipeline::Readiness ready_;
  std::vector<double> compute_free_, p2p_free_, dp_free_;
  std::vector<size_t> pc_;
  std::vector<std::vector<char>> launched_;  // per device, per bucket
  std::vector<std::vector<trace::Event>> events_;
  std::vector<std::vector<std::pair<double, double>>> intervals_;
  std::vector<std::vector<int64_t>> flow_of_send_;  // [forward?0:1][(stage, mb)]: the SEND's flow id
  std::vector<std::vector<int>> action_of_send_;    // the same: the SEND's index in its device's list
  std::vector<std::vector<int>> last_weight_pass_;  // per device, per stage: its last B or W in the list
  int64_t next_flow_ = 0;
  int action_        = -1;  // the index of the action being run in its device's list
  SimResult r_;

  // An event of device d, belonging to the running action (action_) unless `action` names another.
  void emit(int d, trace::Kind kind, double t0, double t1, int stage, int mb, int64_t bytes = 0,
            int peer = -1, int64_t flow = -1, int action = -2) {
    if (!record_) return;
    trace::Event e;
    e.action     = action == -2 ? action_ : action;
    e.t_begin_ns = std::llround(t0 * in_.time_unit_ns);
    e.t_end_ns   = std::llround(t1 * in_.time_unit_ns);
    e.kind       = kind;
    e.track      = trace::default_track(kind);
    e.stage      = static_cast<int16_t>(stage);
    e.microbatch = mb;
    e.bytes      = bytes;
    e.peer       = static_cast<int16_t>(peer);
    e.flow_id    = flow;
    events_[d].push_back(e);
  }

  // Compute-stream work of device d from t0 to t1 (busy, overlap intervals, the trace).
  void busy(int d, trace::Kind kind, double t0, double t1, double work, int stage, int mb) {
    emit(d, kind, t0, t1, stage, mb);
    if (in_.measure_overlap && t1 > t0) intervals_[d].push_back({t0, t1});
    r_.busy[d] += work;
  }

  double duration(const Action& a) const {
    const StageDurations& sd = in_.stages[a.stage];
    switch (a.kind) {
      case ActionKind::kForward:
      case ActionKind::kRecompute:
        return sd.forward;
      case ActionKind::kFullBackward:
        return sd.backward;
      case ActionKind::kBackwardInput:
        return sd.backward_input;
      case ActionKind::kBackwardWeight:
        return sd.backward_weight;
      default:
        return at(in_.flush, a.stage);  // FLUSH_W
    }
  }

  // Tries to run the next action of device d; false when it must wait for another device.
  bool step(int d) {
    const Action& a = s_.actions[d][pc_[d]];
    action_         = static_cast<int>(pc_[d]);
    if (pipeline::is_compute(a.kind) || a.kind == ActionKind::kFlushWeight) return compute(d, a);
    if (a.kind == ActionKind::kSendForward || a.kind == ActionKind::kSendBackward) return send(d, a);
    if (pipeline::is_transfer(a.kind)) return receive(d, a);
    tail(d, a);
    return true;
  }

  bool compute(int d, const Action& a) {
    const double input = ready_.input_time(a);
    if (input == pipeline::Readiness::kNotYet) return false;
    const auto* final  = final_comm(d, a);
    const double begin = std::max(compute_free_[d], input), dur = duration(a) + total(final);
    double end = begin + dur;
    launch_following(d, begin, dur, end);
    busy(d, pipeline::trace_kind(a.kind), begin, end, dur, a.stage, a.microbatch);
    in_pass(d, a, begin, dur);
    if (final) final_pass(d, a, begin, *final);
    compute_free_[d] = end;
    r_.compute_end   = std::max(r_.compute_end, end);
    ready_.complete(a, end);
    return true;
  }

  // The exchanges inside action a (domain parallelism) as HALO, LAYOUT or ALLREDUCE events (their kind)
  // nested in it, on the compute track.
  void in_pass(int d, const Action& a, double begin, double dur) {
    const bool fwd  = a.kind == ActionKind::kForward || a.kind == ActionKind::kRecompute;
    const bool bwd  = a.kind == ActionKind::kFullBackward || a.kind == ActionKind::kBackwardInput;
    const auto& all = fwd ? in_.forward_comm : in_.backward_comm;
    if (!record_ || !(fwd || bwd) || a.stage >= static_cast<int>(all.size())) return;
    double comm = 0;  // what the pass waits for
    for (const InPassComm& c : all[a.stage]) comm += c.time - c.hidden;
    double done = 0;  // exchanges before this one
    for (const InPassComm& c : all[a.stage]) {
      const double t0 = begin + c.after * std::max(0.0, dur - comm) + done;
      emit(d, c.kind, t0, t0 + c.time, a.stage, a.microbatch, c.bytes);
      events_[d].back().track = trace::Track::kCompute;
      done += c.time - c.hidden;
    }
  }

  // The collectives of a.stage once its gradients are final, when a is its last weight pass on device d.
  const std::vector<InPassComm>* final_comm(int d, const Action& a) const {
    if (a.stage < 0 || a.stage >= static_cast<int>(in_.final_comm.size()) || in_.final_comm[a.stage].empty())
      return nullptr;
    if (a.kind != ActionKind::kFullBackward && a.kind != ActionKind::kBackwardWeight) return nullptr;
    return static_cast<int>(pc_[d]) == last_weight_pass_[d][a.stage] ? &in_.final_comm[a.stage] : nullptr;
  }

  static double total(const std::vector<InPassComm>* comm) {
    double t = 0;
    if (comm)
      for (const InPassComm& c : *comm) t += c.time;
    return t;
  }

  // Their events, each after its share of the action's weight passes (a B's input passes first), on the
  // collective's own track as the runtime records them (Engine::Impl::record_collective).
  void final_pass(int d, const Action& a, double begin, const std::vector<InPassComm>& comm) {
    if (!record_) return;
    const StageDurations& sd = in_.stages[a.stage];
    const double input       = a.kind == ActionKind::kFullBackward ? sd.backward - sd.backward_weight : 0.0;
    double done              = 0;
    for (const InPassComm& c : comm) {
      const double t0 = begin + input + c.after * sd.backward_weight + done;
      emit(d, c.kind, t0, t0 + c.time, a.stage, a.microbatch,
           c.bytes);  // on its kind's track, as the runtime
      done += c.time;
    }
  }

  // The REDUCE_GRAD actions right after the running one start during it, at their buckets' ready fractions.
  void launch_following(int d, double begin, double dur, double& end) {
    double stretch   = 0;  // compute delayed so far by buckets sharing its core
    const auto& list = s_.actions[d];
    for (size_t k = pc_[d] + 1; k < list.size() && list[k].kind == ActionKind::kReduceGrad; ++k)
      if (list[k].bucket() >= 0)
        stretch += launch(d, list[k].bucket(), begin + dur * bucket_ready(d, list[k].bucket()) + stretch, end,
                          static_cast<int>(k));
  }

  double bucket_ready(int d, int b) const {
    return d < static_cast<int>(in_.bucket_ready.size()) ? at(in_.bucket_ready[d], b) : 1.0;
  }

  // Starts bucket b of device d once ready and its stream is free; returns how much later the compute ending
  // at `end` finishes because of it (buckets sharing the core: both at half speed while they overlap).
  double launch(int d, int b, double ready, double& end, int action) {
    if (b >= static_cast<int>(launched_[d].size()) || launched_[d][b]) return 0;
    launched_[d][b]   = 1;
    const double time = in_.bucket_time[d][b];
    const double t0   = std::max(ready, dp_free_[d]);
    double overlap    = 0;
    if (in_.buckets_share_core) overlap = std::min(time, std::max(0.0, end - t0));
    end += overlap;
    dp_free_[d] = t0 + time + overlap;
    r_.comm[d] += time;
    const int64_t bytes = d < static_cast<int>(in_.bucket_bytes.size()) ? in_.bucket_bytes[d][b] : 0;
    emit(d, trace::Kind::kAllReduce, t0, dp_free_[d], -1, -1, bytes, -1, -1, action);
    return overlap;
  }

  bool send(int d, const Action& a) {
    const bool fwd = a.kind == ActionKind::kSendForward;
    const int s = a.stage, k = a.microbatch;
    const double t = compute_free_[d], tt = at(fwd ? in_.send_forward : in_.send_backward, s);
    const int64_t f                                                                = next_flow_++;
    flow_of_send_[fwd ? 0 : 1][static_cast<size_t>(s) * s_.num_microbatches + k]   = f;
    action_of_send_[fwd ? 0 : 1][static_cast<size_t>(s) * s_.num_microbatches + k] = action_;
    if (in_.rendezvous) {  // the receiver starts the copy once it is there
      ready_.complete(a, t, t);
      return true;
    }
    const double t0 = std::max(t, p2p_free_[d]), t1 = t0 + tt;
    p2p_free_[d] = t1;
    if (in_.blocking_sends) compute_free_[d] = t1;
    r_.comm[d] += tt;
    ready_.complete(a, t, t1);
    emit(d, trace::Kind::kSend, t0, t1, s, k, bytes_of(fwd, s), s_.stage_device[fwd ? s + 1 : s - 1], f);
    return true;
  }

  int64_t bytes_of(bool fwd, int s) const {
    const auto& v = fwd ? in_.forward_bytes : in_.backward_bytes;
    return v.empty() ? 0 : v[s];
  }

  bool receive(int d, const Action& a) {
    const double got = ready_.input_time(a);
    if (got == pipeline::Readiness::kNotYet) return false;
    const bool fwd = a.kind == ActionKind::kRecvForward;
    const int src = fwd ? a.stage - 1 : a.stage + 1, k = a.microbatch;
    const int peer  = s_.stage_device[src];
    const int64_t f = flow_of_send_[fwd ? 0 : 1][static_cast<size_t>(src) * s_.num_microbatches + k];
    const double t  = compute_free_[d];
    double end      = std::max(t, got);
    if (in_.rendezvous) {
      const double tt = at(fwd ? in_.send_forward : in_.send_backward, src), t0 = end;
      end = t0 + tt;
      r_.comm[peer] += tt;
      emit(peer, trace::Kind::kSend, t0, end, src, k, bytes_of(fwd, src), d, f,
           action_of_send_[fwd ? 0 : 1][static_cast<size_t>(src) * s_.num_microbatches + k]);
    }
    emit(d, trace::Kind::kRecv, t, end, a.stage, k, bytes_of(fwd, src), peer, f);
    const double gather = at(fwd ? in_.gather_forward : in_.gather_backward, src);
    if (gather > 0) emit(d, trace::Kind::kAllGather, end, end + gather, a.stage, k);
    r_.comm[d] += gather;
    end += gather;
    compute_free_[d] = end;
    ready_.complete(a, end);
    return true;
  }

  void tail(int d, const Action& a) {
    double& t = compute_free_[d];
    switch (a.kind) {
      case ActionKind::kReduceGrad: {  // not right after its action (a hand-written list): starts here
        double end = t;
        if (a.bucket() >= 0) launch(d, a.bucket(), t, end, action_);
        return;
      }
      case ActionKind::kGradNorm:
      case ActionKind::kOptStep: {
        const double t0  = std::max(t, dp_free_[d]);
        const double dur = at(a.kind == ActionKind::kOptStep ? in_.opt_step : in_.grad_norm, d);
        busy(d, trace::Kind::kOptStep, t0, t0 + dur, dur, -1, -1);  // GRAD_NORM may take no time here
        t = t0 + dur;
        return;
      }
      case ActionKind::kReduceScatter:
      case ActionKind::kAllGather: {
        const bool rs   = a.kind == ActionKind::kReduceScatter;
        const double t0 = std::max(t, dp_free_[d]), dur = at(rs ? in_.reduce_scatter : in_.all_gather, d);
        const int64_t bytes = d < static_cast<int>(in_.zero_bytes.size()) ? in_.zero_bytes[d] : 0;
        if (dur > 0)
          emit(d, rs ? trace::Kind::kReduceScatter : trace::Kind::kAllGather, t0, t0 + dur, -1, -1, bytes);
        r_.comm[d] += dur;
        t = t0 + dur;
        return;
      }
      default:
        return;
    }
  }

  [[noreturn]] void fail_stuck() const {
    std::string stuck;
    for (int d = 0; d < s_.num_devices; ++d)
      if (pc_[d] < s_.actions[d].size())
        stuck += fmt::format(" device {} at {}", d, pipeline::to_string(s_.actions[d][pc_[d]]));
    PX_FAIL("simulate: the schedule cannot complete; stuck:{} (validate it with `paraxis schedule`)", stuck);
  }

  SimResult finish() {
    const int P = s_.num_devices;
    for (int d = 0; d < P; ++d)
      r_.step_time = std::max(r_.step_time, std::max({compute_free_[d], dp_free_[d], p2p_free_[d]}));
    if (in_.measure_overlap) r_.overlap = overlap_fractions(intervals_);
    r_.utilization.resize(P);
    double mean = 0;
    for (int d = 0; d < P; ++d) {
      r_.utilization[d] = r_.step_time > 0 ? r_.busy[d] / r_.step_time : 0.0;
      mean += r_.utilization[d] / P;
    }
    r_.bubble = 1.0 - mean;
    if (record_) record_trace();
    return std::move(r_);
  }

  void record_trace() {
    r_.trace.layout      = in_.layout;
    r_.trace.layout_info = in_.layout_info;
    r_.trace.source      = "simulated";
    r_.trace.events      = std::move(events_);
    for (auto& list : r_.trace.events)
      std::sort(list.begin(), list.end(),
                [](const trace::Event& a, const trace::Event& b) { return a.t_begin_ns < b.t_begin_ns; });
    for (int d = 0; d < s_.num_devices; ++d)
      r_.trace.devices.push_back(static_cast<int>(in_.devices.size()) > d ? in_.devices[d]
                                                                          : trace::DeviceInfo{d, 0, 0, d});
    r_.trace.steps.push_back({0, std::llround(r_.step_time * in_.time_unit_ns)});
  }
};

}  // namespace

SimResult simulate(const Schedule& sched, const SimInput& in, bool record_trace) {
  PX_CHECK(static_cast<int>(in.stages.size()) == sched.num_stages,
           "simulate: {} stage durations for {} stages", in.stages.size(), sched.num_stages);
  PX_CHECK(sched.num_devices == 1 || sched.is_lowered() || sched.num_stages == 1,
           "simulate: a schedule over {} devices needs its SEND/RECV actions (pipeline::lower_send_recv)",
           sched.num_devices);
  return Sim(sched, in, record_trace).run();
}

}  // namespace paraxis::cost
