#include "paraxis/pipeline/lower.h"

#include <fmt/format.h>

#include <deque>

#include "paraxis/core/error.h"
#include "paraxis/pipeline/grid.h"
#include "paraxis/pipeline/readiness.h"
#include "paraxis/pipeline/validate.h"

namespace paraxis::pipeline {

namespace {

class Lowering {
 public:
  explicit Lowering(const Schedule& in) : in_(in), out_(in), ready_(in) {
    for (auto& list : out_.actions) list.clear();
    const size_t cells = static_cast<size_t>(in.num_stages) * in.num_microbatches;
    for (auto* v : {&act_here_, &grad_here_}) v->assign(cells, false);
    channel_.resize(static_cast<size_t>(in.num_devices) * in.num_devices);
  }

  Schedule run() {
    std::vector<size_t> next(in_.num_devices, 0);
    size_t remaining = 0;
    for (const auto& list : in_.actions) remaining += list.size();
    while (remaining > 0) {
      bool progress = false;
      for (int d = 0; d < in_.num_devices; ++d) {
        if (next[d] >= in_.actions[d].size() || !ready(in_.actions[d][next[d]])) continue;
        emit(d, in_.actions[d][next[d]]);
        ++next[d];
        --remaining;
        progress = true;
      }
      if (!progress) {
        std::vector<GridMark> stuck;
        for (int d = 0; d < in_.num_devices; ++d)
          if (next[d] < in_.actions[d].size()) stuck.push_back({d, static_cast<int>(next[d])});
        PX_USER_FAIL(
            "cannot lower the schedule: every device waits for data no other device will produce first (the "
            "marked actions form a cycle)\n{}",
            format_grid(in_, stuck));
      }
    }
    return out_;
  }

 private:
  const Schedule& in_;
  Schedule out_;
  // Which compute action may run: the compute-only list's dependencies (readiness.h), in rounds.
  Readiness ready_;
  // Per (stage, mb) of the RECEIVING stage: its input activation / output gradient has a RECV placed.
  std::vector<bool> act_here_, grad_here_;
  // Per (sender, receiver) device pair: RECV actions whose SEND is placed but whose RECV is not yet, in send
  // order. Receivers drain a channel in that order, so paired transfers match first-in first-out.
  std::vector<std::deque<Action>> channel_;

  size_t key(int stage, int mb) const { return static_cast<size_t>(stage) * in_.num_microbatches + mb; }
  int last_stage() const { return in_.num_stages - 1; }
  int owner(int stage) const { return in_.stage_device[stage]; }

  bool ready(const Action& a) const {
    PX_USER_CHECK(!is_transfer(a.kind),
                  "lower_send_recv takes a compute-only schedule, found {}; lower the compute lists instead",
                  to_string(a));
    return ready_.input_time(a) != Readiness::kNotYet;
  }

  // Places the RECV of (stage, mb) on its device just before the pass that consumes it, after the RECVs sent
  // earlier on the same channel.
  void receive(int from_device, int to_device, ActionKind recv, int stage, int mb) {
    std::vector<bool>& here = recv == ActionKind::kRecvForward ? act_here_ : grad_here_;
    if (here[key(stage, mb)]) return;
    auto& queue = channel_[static_cast<size_t>(from_device) * in_.num_devices + to_device];
    while (!here[key(stage, mb)]) {
      PX_CHECK(!queue.empty(), "lowering lost the transfer {}", to_string({stage, recv, mb}));
      const Action r = queue.front();
      queue.pop_front();
      out_.actions[to_device].push_back(r);
      (r.kind == ActionKind::kRecvForward ? act_here_ : grad_here_)[key(r.stage, r.microbatch)] = true;
    }
  }

  void send(ActionKind send_kind, ActionKind recv_kind, int from_stage, int to_stage, int mb) {
    const int from = owner(from_stage), to = owner(to_stage);
    if (from == to) {  // a local hand-off
      (recv_kind == ActionKind::kRecvForward ? act_here_ : grad_here_)[key(to_stage, mb)] = true;
      return;
    }
    out_.actions[from].push_back({from_stage, send_kind, mb});
    channel_[static_cast<size_t>(from) * in_.num_devices + to].push_back({to_stage, recv_kind, mb});
  }

  void emit(int d, const Action& a) {
    PX_USER_CHECK(is_tail(a.kind) || (a.stage >= 0 && a.stage < in_.num_stages && a.microbatch >= 0 &&
                                      a.microbatch < in_.num_microbatches && owner(a.stage) == d),
                  "cannot lower {} on device {}: validate the schedule first", to_string(a), d);
    if (a.kind == ActionKind::kForward && a.stage > 0)
      receive(owner(a.stage - 1), d, ActionKind::kRecvForward, a.stage, a.microbatch);
    if ((a.kind == ActionKind::kBackwardInput || a.kind == ActionKind::kFullBackward) &&
        a.stage < last_stage())
      receive(owner(a.stage + 1), d, ActionKind::kRecvBackward, a.stage, a.microbatch);
    out_.actions[d].push_back(a);
    ready_.complete(a, 0);
    if (a.kind == ActionKind::kForward) {
      if (a.stage < last_stage())
        send(ActionKind::kSendForward, ActionKind::kRecvForward, a.stage, a.stage + 1, a.microbatch);
    } else if (a.kind == ActionKind::kBackwardInput || a.kind == ActionKind::kFullBackward) {
      if (a.stage > 0)
        send(ActionKind::kSendBackward, ActionKind::kRecvBackward, a.stage, a.stage - 1, a.microbatch);
    }
  }
};

}  // namespace

Schedule lower_send_recv(const Schedule& compute_only) {
  PX_USER_CHECK(
      !compute_only.is_lowered(),
      "the schedule already contains SEND/RECV actions; lower_send_recv takes a compute-only schedule");
  validate_schedule(compute_only);
  return Lowering(compute_only).run();
}

}  // namespace paraxis::pipeline
