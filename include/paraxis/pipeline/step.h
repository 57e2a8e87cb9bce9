// paraxis/pipeline/step.h — the whole training step as a schedule: the pipeline's lowered lists plus the
// step's tail (gradient buckets, deferred weight gradients, ZeRO-1, gradient norm, optimizer step).
//
//   StepSpec spec;
//   spec.schedule = {ScheduleKind::k1F1B, /*pp=*/2, /*m=*/4};
//   spec.dp       = 2;
//   spec.cuts     = {0, 2, 4};                       // stage s holds blocks [cuts[s], cuts[s+1])
//   spec.buckets  = {layout_grad_buckets(slots_of_device_0, 25 << 18), ...};   // per pipeline device
//   Schedule step = generate_step(spec);             // validated; what the runtime and the simulator run
//   // 0: 0F0 0SEND_F0 0F1 ... 0B3 REDUCE_GRAD0 REDUCE_GRAD1 OPT_STEP GRAD_NORM
//
// One device is the same machinery: `paraxis schedule --dp 2` prints 0F0 0B0 REDUCE_GRAD0 ... OPT_STEP.
// Where a REDUCE_GRAD goes: right after the action during which its bucket's last gradient is written (the
// last backward of the stages whose blocks it holds, or their FLUSH_W). The runtime starts the all-reduce at
// that moment inside the action, the simulator at the same fraction of it: the list shows which backward the
// reduction overlaps. NOTE [tail order]: FLUSH_W of the device's stages, last stage first, after its pipeline
// actions (so no previous stage waits for the big GEMMs); REDUCE_SCATTER (ZeRO-1) after them; GRAD_NORM
// before OPT_STEP when the norm clips, after it otherwise (the fused update computes the squares); ALL_GATHER
// (ZeRO-1) last. OPT_STEP waits for every REDUCE_GRAD of its device.
#pragma once

#include <cstdint>
#include <vector>

#include "paraxis/pipeline/action.h"
#include "paraxis/pipeline/generators.h"

namespace paraxis::pipeline {

// One parameter of a device, in the device's flat gradient order (backward order: last block first).
struct ParamSlot {
  int block     = 0;  // the model block holding it
  int64_t numel = 0;
};

// A data-parallel gradient bucket: a contiguous range of the device's flat gradient.
struct GradBucket {
  int64_t begin = 0, end = 0;  // elements [begin, end)
  std::vector<int> blocks;     // blocks whose parameters it holds, in flat order, each once
  int params = 0;              // parameters it holds
};

// The bucket layout the runtime and the cost model share: parameters in flat order, a new bucket once the
// current one holds at least bucket_elems elements (PyTorch DDP's rule, bucket_cap_mb).
std::vector<GradBucket> layout_grad_buckets(const std::vector<ParamSlot>& params, int64_t bucket_elems);
// Elements of fp32 gradient in a bucket of `bucket_bytes` (at least 1): --bucket-mb MB is MB · 2^20 bytes.
int64_t grad_bucket_elems(double bucket_bytes);

// The parameters of `device`'s stages in its flat order: blocks last first, each block's parameters in their
// own order (block_numels[b]: the elements of each parameter of block b as the device holds it, tp shards).
std::vector<ParamSlot> device_param_slots(const std::vector<std::vector<int64_t>>& block_numels,
                                          const std::vector<int>& cuts, const std::vector<int>& stage_device,
                                          int device);

struct StepSpec {
  ScheduleSpec schedule;       // the pipeline (pp, m, v); one device: pp 1, m 1
  int dp         = 1;          // data-parallel replicas of each pipeline device
  bool zero1     = false;      // ZeRO-1: reduce-scatter, shard update, all-gather (dp > 1)
  bool clip      = false;      // the gradient norm clips before the update
  bool recompute = false;      // a stage keeps only its input after F and re-runs it (R) before I/B
  std::vector<int> cuts;       // stage s holds blocks [cuts[s], cuts[s+1]); empty: one block per stage
  std::vector<char> deferred;  // per block: weight gradient deferred to its stage's FLUSH_W; empty: none
  std::vector<std::vector<GradBucket>> buckets;  // per pipeline device (used when dp > 1 without ZeRO-1)
};

// Activation recompute: `{s}R{k}` inserted right before the first backward (I or B) of (s, k) in each
// compute list (lowering then puts the RECV_B after it, so the recompute overlaps the wait for the gradient).
Schedule with_recompute(const Schedule& compute_only);
// Evaluation is a schedule too: every micro-batch forwarded through every stage (each device its stages in
// order, micro-batch by micro-batch), with the SEND_F/RECV_F between devices; no backward, no tail.
// Stage s on device s % pp, as in training.
Schedule generate_evaluation(int pp, int microbatches, int virtual_stages);
// generate_schedule (+ recompute) + lower_send_recv + the tail, validated (user errors exit 2).
Schedule generate_step(const StepSpec& spec);
// Appends the tail to an already lowered (or one-device) pipeline schedule.
Schedule add_step_tail(const Schedule& lowered, const StepSpec& spec);

}  // namespace paraxis::pipeline
