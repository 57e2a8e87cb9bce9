#include "paraxis/pipeline/step.h"

#include <algorithm>
#include <map>

#include "paraxis/core/error.h"
#include "paraxis/pipeline/lower.h"
#include "paraxis/pipeline/validate.h"

namespace paraxis::pipeline {

std::vector<GradBucket> layout_grad_buckets(const std::vector<ParamSlot>& params, int64_t bucket_elems) {
  PX_CHECK(bucket_elems >= 1, "bucket size {} elements", bucket_elems);
  std::vector<GradBucket> out;
  int64_t off = 0;
  for (const ParamSlot& p : params) {
    if (out.empty() || out.back().end - out.back().begin >= bucket_elems) out.push_back({off, off, {}, 0});
    GradBucket& b = out.back();
    b.end         = off + p.numel;
    b.params++;
    if (std::find(b.blocks.begin(), b.blocks.end(), p.block) == b.blocks.end()) b.blocks.push_back(p.block);
    off += p.numel;
  }
  return out;
}

std::vector<ParamSlot> device_param_slots(const std::vector<std::vector<int64_t>>& block_numels,
                                          const std::vector<int>& cuts, const std::vector<int>& stage_device,
                                          int device) {
  std::vector<ParamSlot> out;
  for (int st = static_cast<int>(stage_device.size()); st-- > 0;) {
    if (stage_device[st] != device) continue;
    for (int b = cuts[st + 1]; b-- > cuts[st];)
      for (int64_t n : block_numels[b]) out.push_back({b, n});
  }
  return out;
}

int64_t grad_bucket_elems(double bucket_bytes) {
  return std::max<int64_t>(1, static_cast<int64_t>(bucket_bytes / 4));
}

namespace {

int stage_of_block(const StepSpec& spec, int block) {
  if (spec.cuts.empty()) return block;
  const auto it = std::upper_bound(spec.cuts.begin(), spec.cuts.end(), block);
  return static_cast<int>(it - spec.cuts.begin()) - 1;
}

bool stage_flushes(const StepSpec& spec, int stage) {
  if (spec.deferred.empty()) return false;
  const int first = spec.cuts.empty() ? stage : spec.cuts[stage];
  const int last  = spec.cuts.empty() ? stage + 1 : spec.cuts[stage + 1];
  for (int b = first; b < last; ++b)
    if (spec.deferred[b]) return true;
  return false;
}

// One device's list: its pipeline actions, then FLUSH_W of its deferring stages, last stage first.
std::vector<Action> with_flushes(const Schedule& s, const StepSpec& spec, int device) {
  std::vector<Action> list = s.actions[device];
  for (int st = s.num_stages; st-- > 0;)
    if (s.stage_device[st] == device && stage_flushes(spec, st))
      list.push_back({st, ActionKind::kFlushWeight, -1});
  return list;
}

// The position in `list` after which block's gradient is final: its stage's FLUSH_W when deferred, else the
// stage's last B or W.
int final_position(const std::vector<Action>& list, const StepSpec& spec, int block) {
  const int st        = stage_of_block(spec, block);
  const bool deferred = !spec.deferred.empty() && spec.deferred[block];
  int pos             = -1;
  for (int i = 0; i < static_cast<int>(list.size()); ++i) {
    const Action& a = list[i];
    if (a.stage != st) continue;
    if (deferred ? a.kind == ActionKind::kFlushWeight
                 : (a.kind == ActionKind::kFullBackward || a.kind == ActionKind::kBackwardWeight))
      pos = i;
  }
  PX_CHECK(pos >= 0, "block {} (stage {}) has no backward on its device", block, st);
  return pos;
}

// Inserts REDUCE_GRAD b right after the action that completes bucket b (buckets in order at one place).
std::vector<Action> with_reductions(const std::vector<Action>& list, const std::vector<GradBucket>& buckets,
                                    const StepSpec& spec) {
  std::map<int, std::vector<int>> after;  // position -> buckets completed there
  for (int b = 0; b < static_cast<int>(buckets.size()); ++b) {
    int pos = -1;
    for (int block : buckets[b].blocks) pos = std::max(pos, final_position(list, spec, block));
    after[pos].push_back(b);
  }
  std::vector<Action> out;
  for (int i = 0; i < static_cast<int>(list.size()); ++i) {
    out.push_back(list[i]);
    if (auto it = after.find(i); it != after.end())
      for (int b : it->second) out.push_back({-1, ActionKind::kReduceGrad, b});
  }
  return out;
}

void append_update(std::vector<Action>& list, const StepSpec& spec) {
  const bool zero = spec.zero1 && spec.dp > 1;
  if (zero) list.push_back({-1, ActionKind::kReduceScatter, -1});
  if (spec.clip) list.push_back({-1, ActionKind::kGradNorm, -1});
  list.push_back({-1, ActionKind::kOptStep, -1});
  if (!spec.clip) list.push_back({-1, ActionKind::kGradNorm, -1});
  if (zero) list.push_back({-1, ActionKind::kAllGather, -1});
}

}  // namespace

Schedule add_step_tail(const Schedule& lowered, const StepSpec& spec) {
  const bool buckets = spec.dp > 1 && !(spec.zero1 && spec.dp > 1);
  PX_CHECK(!buckets || static_cast<int>(spec.buckets.size()) == lowered.num_devices,
           "{} bucket layouts for {} pipeline devices", spec.buckets.size(), lowered.num_devices);
  Schedule out = lowered;
  for (int d = 0; d < lowered.num_devices; ++d) {
    std::vector<Action> list = with_flushes(lowered, spec, d);
    if (buckets) list = with_reductions(list, spec.buckets[d], spec);
    append_update(list, spec);
    out.actions[d] = std::move(list);
  }
  validate_schedule(out);
  return out;
}

Schedule with_recompute(const Schedule& compute_only) {
  Schedule out = compute_only;
  for (auto& list : out.actions) {
    std::vector<Action> with;
    for (const Action& a : list) {
      if (a.kind == ActionKind::kBackwardInput || a.kind == ActionKind::kFullBackward)
        with.push_back({a.stage, ActionKind::kRecompute, a.microbatch});
      with.push_back(a);
    }
    list = std::move(with);
  }
  return out;
}

Schedule generate_evaluation(int pp, int microbatches, int virtual_stages) {
  Schedule eval = Schedule::empty(pp, pp * virtual_stages, microbatches);
  for (int k = 0; k < microbatches; ++k)
    for (int st = 0; st < eval.num_stages; ++st)
      eval.actions[eval.stage_device[st]].push_back({st, ActionKind::kForward, k});
  Schedule lowered = lower_send_recv(eval);
  validate_schedule(lowered);
  return lowered;
}

Schedule generate_step(const StepSpec& spec) {
  Schedule compute = generate_schedule(spec.schedule);
  if (spec.recompute) compute = with_recompute(compute);
  return add_step_tail(lower_send_recv(compute), spec);
}

}  // namespace paraxis::pipeline
