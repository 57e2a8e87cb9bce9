#include "paraxis/pipeline/validate.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <map>

#include "paraxis/core/error.h"
#include "paraxis/pipeline/grid.h"

namespace paraxis::pipeline {

namespace {

constexpr int kNumKinds = kNumActionKinds;

class Validator {
 public:
  explicit Validator(const Schedule& s) : s_(s), forward_only_(forward_only()) {}

  void run() {
    check_structure();
    record_positions();
    check_counts_and_order();
    if (s_.is_lowered()) {
      check_transfers();
      check_channel_order();
    }
    check_step_level();
  }

 private:
  const Schedule& s_;
  const bool forward_only_;
  // For each kind, (stage, micro-batch) -> step in the owning device's list, -1 when absent.
  std::array<std::vector<int>, kNumKinds> pos_;

  [[noreturn]] void fail(const std::string& rule, std::vector<GridMark> marks) const {
    PX_USER_FAIL("invalid schedule: {}\n{}", rule, format_grid(s_, marks));
  }

  int key(int stage, int mb) const { return stage * s_.num_microbatches + mb; }
  // An evaluation schedule (generate_evaluation): forwards only, no backward anywhere.
  bool forward_only() const {
    for (const auto& list : s_.actions)
      for (const Action& a : list)
        if (a.kind == ActionKind::kFullBackward || a.kind == ActionKind::kBackwardInput ||
            a.kind == ActionKind::kBackwardWeight)
          return false;
    return true;
  }
  int at(ActionKind k, int stage, int mb) const { return pos_[static_cast<int>(k)][key(stage, mb)]; }
  int owner(int stage) const { return s_.stage_device[stage]; }
  int end_of(int stage) const { return static_cast<int>(s_.actions[owner(stage)].size()); }
  // The step of the backward pass producing the input gradient: I, or B when the backward is full.
  int grad_step(int stage, int mb) const {
    int i = at(ActionKind::kBackwardInput, stage, mb);
    return i >= 0 ? i : at(ActionKind::kFullBackward, stage, mb);
  }
  // The step after which the stage's weight gradient of mb is complete: W, or B.
  int weight_step(int stage, int mb) const {
    int w = at(ActionKind::kBackwardWeight, stage, mb);
    return w >= 0 ? w : at(ActionKind::kFullBackward, stage, mb);
  }

  void check_structure() const {
    PX_USER_CHECK(static_cast<int>(s_.actions.size()) == s_.num_devices &&
                      static_cast<int>(s_.stage_device.size()) == s_.num_stages,
                  "invalid schedule: {} action lists for {} devices, {} stage owners for {} stages",
                  s_.actions.size(), s_.num_devices, s_.stage_device.size(), s_.num_stages);
    PX_USER_CHECK(s_.num_stages >= 1 && s_.num_microbatches >= 1,
                  "invalid schedule: {} stages and {} micro-batches; a schedule needs at least one of each",
                  s_.num_stages, s_.num_microbatches);
    for (int st = 0; st < s_.num_stages; ++st)
      PX_USER_CHECK(s_.stage_device[st] >= 0 && s_.stage_device[st] < s_.num_devices,
                    "invalid schedule: stage {} is owned by device {}, but devices are 0..{}", st,
                    s_.stage_device[st], s_.num_devices - 1);
  }

  void record_positions() {
    for (auto& v : pos_) v.assign(static_cast<size_t>(s_.num_stages) * s_.num_microbatches, -1);
    for (int d = 0; d < s_.num_devices; ++d) {
      for (int i = 0; i < static_cast<int>(s_.actions[d].size()); ++i) {
        const Action& a = s_.actions[d][i];
        if (is_tail(a.kind)) {
          if (a.stage >= s_.num_stages)
            fail(fmt::format("{} names stage {} of {}", to_string(a), a.stage, s_.num_stages), {{d, i}});
          continue;
        }
        if (a.stage < 0 || a.stage >= s_.num_stages || a.microbatch < 0 ||
            a.microbatch >= s_.num_microbatches)
          fail(fmt::format("{} is out of range: stages are 0..{}, micro-batches 0..{}", to_string(a),
                           s_.num_stages - 1, s_.num_microbatches - 1),
               {{d, i}});
        if (owner(a.stage) != d)
          fail(fmt::format("{} runs on device {} but stage {} belongs to device {} (one device per stage)",
                           to_string(a), d, a.stage, owner(a.stage)),
               {{d, i}});
        int& slot = pos_[static_cast<int>(a.kind)][key(a.stage, a.microbatch)];
        if (slot >= 0)
          fail(fmt::format("{} appears twice on device {} (steps {} and {}); each pass runs once",
                           to_string(a), d, slot, i),
               {{d, slot}, {d, i}});
        slot = i;
      }
    }
  }

  void check_counts_and_order() const {
    for (int st = 0; st < s_.num_stages; ++st) {
      const int d = owner(st);
      for (int k = 0; k < s_.num_microbatches; ++k) {
        const int f = at(ActionKind::kForward, st, k), b = at(ActionKind::kFullBackward, st, k);
        const int i = at(ActionKind::kBackwardInput, st, k), w = at(ActionKind::kBackwardWeight, st, k);
        if (f < 0)
          fail(fmt::format("micro-batch {} is never forwarded on stage {} (missing {}F{})", k, st, st, k),
               {{d, end_of(st)}});
        if (b >= 0 && (i >= 0 || w >= 0))
          fail(fmt::format("stage {} micro-batch {} has a full backward {}B{} and a split one (I/W); a full "
                           "backward already is I + W",
                           st, k, st, k),
               {{d, b}, {d, i >= 0 ? i : w}});
        if (b < 0 && (i < 0 || w < 0) && !forward_only_)
          fail(fmt::format("stage {} micro-batch {} lacks its backward: need {}B{}, or both {}I{} and {}W{}",
                           st, k, st, k, st, k, st, k),
               {{d, i >= 0 ? i : (w >= 0 ? w : end_of(st))}});
        if (forward_only_) {  // evaluation: the forwards' own order only
          if (st > 0 && owner(st - 1) == d && at(ActionKind::kForward, st - 1, k) > f)
            fail(fmt::format("{}F{} runs before {}F{} on the same device", st, k, st - 1, k), {{d, f}});
          continue;
        }
        const int g = b >= 0 ? b : i;
        if (g < f)
          fail(fmt::format("{}{}{} runs before its forward {}F{} (F before I before W)", st,
                           b >= 0 ? "B" : "I", k, st, k),
               {{d, g}});
        if (b < 0 && w < i)
          fail(fmt::format("{}W{} runs before {}I{} (F before I before W)", st, k, st, k), {{d, w}});
        const int r = at(ActionKind::kRecompute, st, k);
        if (r >= 0 && (r < f || r > g))
          fail(fmt::format(
                   "{}R{} must run after {}F{} and before the backward it rebuilds the activations for", st,
                   k, st, k),
               {{d, r}});
        // Dependencies on the same device are a matter of list order.
        if (st > 0 && owner(st - 1) == d && at(ActionKind::kForward, st - 1, k) > f)
          fail(fmt::format("{}F{} runs before {}F{} on the same device; stage {} needs stage {}'s output", st,
                           k, st - 1, k, st, st - 1),
               {{d, f}});
        if (st + 1 < s_.num_stages && owner(st + 1) == d && grad_step(st + 1, k) > g)
          fail(fmt::format("the backward of stage {} micro-batch {} runs before that of stage {} on the same "
                           "device; backward goes from the last stage to the first",
                           st, k, st + 1),
               {{d, g}});
      }
    }
  }

  // One transfer: at (kind, stage, mb) exists on the stage's device, after `after` and before `before`
  // (-1 = no bound).
  void expect_transfer(ActionKind kind, int stage, int mb, int after, int before, const char* why) const {
    const int t            = at(kind, stage, mb);
    const std::string name = to_string({stage, kind, mb});
    if (t < 0)
      fail(fmt::format("missing {} on device {}: {}", name, owner(stage), why),
           {{owner(stage), end_of(stage)}});
    if (after >= 0 && t < after)
      fail(fmt::format("{} runs before the pass that makes its data ({})", name, why), {{owner(stage), t}});
    if (before >= 0 && t > before)
      fail(fmt::format("{} runs after the pass that needs its data ({})", name, why), {{owner(stage), t}});
  }

  void forbid_transfer(ActionKind kind, int stage, int mb, const char* why) const {
    const int t = at(kind, stage, mb);
    if (t >= 0)
      fail(fmt::format("{} has no peer: {}", to_string({stage, kind, mb}), why), {{owner(stage), t}});
  }

  void check_transfers() const {
    const int last = s_.num_stages - 1;
    for (int k = 0; k < s_.num_microbatches; ++k) {
      forbid_transfer(ActionKind::kRecvForward, 0, k, "stage 0 reads the input batch");
      forbid_transfer(ActionKind::kSendBackward, 0, k, "stage 0 has no previous stage");
      forbid_transfer(ActionKind::kSendForward, last, k, "the last stage computes the loss");
      forbid_transfer(ActionKind::kRecvBackward, last, k, "the last stage starts the backward from the loss");
      for (int st = 0; st < last; ++st) {  // the edge st -> st+1
        if (owner(st) == owner(st + 1)) {
          const char* local = "the two stages share a device, the hand-off is local";
          forbid_transfer(ActionKind::kSendForward, st, k, local);
          forbid_transfer(ActionKind::kRecvForward, st + 1, k, local);
          forbid_transfer(ActionKind::kSendBackward, st + 1, k, local);
          forbid_transfer(ActionKind::kRecvBackward, st, k, local);
          continue;
        }
        expect_transfer(ActionKind::kSendForward, st, k, at(ActionKind::kForward, st, k), -1,
                        "the activation goes to the next stage's device");
        expect_transfer(ActionKind::kRecvForward, st + 1, k, -1, at(ActionKind::kForward, st + 1, k),
                        "the forward needs the previous stage's activation");
        if (forward_only_) continue;  // evaluation: no gradients travel
        expect_transfer(ActionKind::kSendBackward, st + 1, k, grad_step(st + 1, k), -1,
                        "the input gradient goes to the previous stage's device");
        expect_transfer(ActionKind::kRecvBackward, st, k, -1, grad_step(st, k),
                        "the backward needs the next stage's gradient");
      }
    }
  }

  // Paired transfers between two devices must be received in the order they were sent (FIFO per channel).
  void check_channel_order() const {
    const int D = s_.num_devices;
    std::vector<std::vector<std::pair<Action, GridMark>>> sent(static_cast<size_t>(D) * D),
        received(sent.size());
    for (int d = 0; d < D; ++d)
      for (int i = 0; i < static_cast<int>(s_.actions[d].size()); ++i) {
        const Action& a = s_.actions[d][i];
        if (a.kind == ActionKind::kSendForward)
          sent[d * D + owner(a.stage + 1)].push_back(
              {{a.stage + 1, ActionKind::kRecvForward, a.microbatch}, {d, i}});
        else if (a.kind == ActionKind::kSendBackward)
          sent[d * D + owner(a.stage - 1)].push_back(
              {{a.stage - 1, ActionKind::kRecvBackward, a.microbatch}, {d, i}});
        else if (a.kind == ActionKind::kRecvForward)
          received[owner(a.stage - 1) * D + d].push_back({a, {d, i}});
        else if (a.kind == ActionKind::kRecvBackward)
          received[owner(a.stage + 1) * D + d].push_back({a, {d, i}});
      }
    for (int from = 0; from < D; ++from)
      for (int to = 0; to < D; ++to) {
        const auto &out = sent[from * D + to], &in = received[from * D + to];
        for (size_t n = 0; n < std::min(out.size(), in.size()); ++n)
          if (!(out[n].first == in[n].first))
            fail(fmt::format("transfer {} from device {} to device {} is received as {}: paired transfers "
                             "between two devices must be received in the order they are sent",
                             n, from, to, to_string(in[n].first)),
                 {out[n].second, in[n].second});
      }
  }

  void check_step_level() const {
    for (int d = 0; d < s_.num_devices; ++d) {
      check_reductions(d);
      check_tail_order(d);
    }
  }

  // The last step of device d's list at which a backward (B, W) of `stage` (-1: any of its stages) runs.
  int last_backward(int d, int stage) const {
    int last = -1;
    for (int st = 0; st < s_.num_stages; ++st)
      if (owner(st) == d && (stage < 0 || stage == st))
        for (int k = 0; k < s_.num_microbatches; ++k) last = std::max(last, weight_step(st, k));
    return last;
  }

  // REDUCE_GRAD without a bucket: once per stage, after its weight gradients; with one: once per bucket.
  void check_reductions(int d) const {
    const auto& list = s_.actions[d];
    std::vector<int> reduced(s_.num_stages, -1);
    std::map<int, int> bucket_at;
    for (int i = 0; i < static_cast<int>(list.size()); ++i) {
      const Action& a = list[i];
      if (a.kind != ActionKind::kReduceGrad && a.kind != ActionKind::kFlushWeight) continue;
      if (a.stage >= 0 && owner(a.stage) != d)
        fail(fmt::format("{} runs on device {} but stage {} belongs to device {}", to_string(a), d, a.stage,
                         owner(a.stage)),
             {{d, i}});
      if (a.kind == ActionKind::kFlushWeight || a.bucket() < 0) {
        if (a.kind == ActionKind::kFlushWeight || a.stage >= 0) {
          if (reduced[a.stage] >= 0 && a.kind == ActionKind::kReduceGrad)
            fail(fmt::format("stage {} reduces its gradients twice on device {}", a.stage, d),
                 {{d, reduced[a.stage]}, {d, i}});
          if (a.kind == ActionKind::kReduceGrad) reduced[a.stage] = i;
        }
        if (last_backward(d, a.stage) > i)
          fail(fmt::format("{} runs before the weight gradients it needs are computed", to_string(a)),
               {{d, i}, {d, last_backward(d, a.stage)}});
      } else if (auto [it, fresh] = bucket_at.emplace(a.bucket(), i); !fresh) {
        fail(fmt::format("{} appears twice on device {}", to_string(a), d), {{d, it->second}, {d, i}});
      }
    }
  }

  // REDUCE_SCATTER, GRAD_NORM, OPT_STEP, ALL_GATHER at most once each; after OPT_STEP only GRAD_NORM and
  // ALL_GATHER; ALL_GATHER after OPT_STEP; REDUCE_SCATTER after every backward of the device.
  void check_tail_order(int d) const {
    const auto& list = s_.actions[d];
    std::map<ActionKind, int> seen;
    int opt = -1;
    for (int i = 0; i < static_cast<int>(list.size()); ++i) {
      const Action& a = list[i];
      if (!is_tail(a.kind) || a.kind == ActionKind::kReduceGrad || a.kind == ActionKind::kFlushWeight) {
        if (opt >= 0)
          fail(fmt::format("{} runs after OPT_STEP on device {}; OPT_STEP ends the step's work", to_string(a),
                           d),
               {{d, opt}, {d, i}});
        continue;
      }
      if (auto [it, fresh] = seen.emplace(a.kind, i); !fresh)
        fail(fmt::format("{} appears twice on device {}", to_string(a), d), {{d, it->second}, {d, i}});
      if (a.kind == ActionKind::kOptStep) opt = i;
      if (a.kind == ActionKind::kAllGather && opt < 0)
        fail(fmt::format("ALL_GATHER on device {} runs before OPT_STEP; it shares the updated shards", d),
             {{d, i}});
      if (a.kind == ActionKind::kReduceScatter && (opt >= 0 || last_backward(d, -1) > i))
        fail(fmt::format("REDUCE_SCATTER on device {} must run after every backward and before OPT_STEP", d),
             {{d, i}});
    }
  }
};

}  // namespace

void validate_schedule(const Schedule& s) {
  Validator(s).run();
}

}  // namespace paraxis::pipeline
