// paraxis/cost/memory.h — bytes each device holds at its peak: parameters, gradients, optimizer state,
// stashed activations under the schedule, and a working set.
//
//   pipeline::Schedule schedule = pipeline::generate_schedule({kind, pp, m, v});
//   MemoryEstimate mem = estimate_memory(model, layout, /*micro_batch=*/16, cuts, schedule, hw);
//   mem.total();  mem.summary();     // "1.23 GB (params 0.31, grads 0.31, optimizer 0.62, activations ...)"
//
// Per device (the pipeline rank with the most, over every stage it owns; tp-split blocks divided by tp):
//   params               parameter count × element size (fp32 here; bf16 on the GPU presets)
//   grads                parameter count × 4: fp32 also when training in 16-bit, as Megatron-LM does (bf16
//                        forces --accumulate-allreduce-grads-in-fp32: its main_grad), which makes the 18 bytes
//                        per parameter of Korthikanti et al. 2022 (Fig. 1); the data-parallel all-reduce sends
//                        them in fp32 too
//   optimizer            AdamW: m and v in fp32 (8 B/param) plus an fp32 master copy when training in 16-bit
//                        (Rajbhandari et al. 2020's 12 bytes); SGD with momentum: 4 B/param.
//                        ZeRO-1 divides it by dp.
//   activations          the most the device's stages hold at once under the schedule's order
//                        (pipeline::peak_stash_bytes), each stashed micro-batch what its stage's layers keep
//                        for backward (Layer::cost activation_bytes). With recompute: only each stashed
//                        micro-batch's stage input, plus one micro-batch's full activations while it is
//                        recomputed.
//                        With deferred weight gradients (Layout::defer_wgrad) plus m micro-batches ×
//                        Σ Linear rows·(in + out) per stage: the inputs and output gradients kept to the
//                        flush.
//   workspace            two of the largest activation a block outputs (the live output and its gradient), or
//                        with defer_wgrad the largest Linear's concatenated rows at the flush if larger.
#pragma once

#include <string>
#include <vector>

#include "paraxis/cost/cost.h"
#include "paraxis/cost/hardware.h"
#include "paraxis/pipeline/action.h"

namespace paraxis::cost {

struct Layout;

struct MemoryEstimate {
  double params = 0, grads = 0, optimizer = 0, activations = 0, workspace = 0;
  double rebuilt =
      0;  // of activations: what recompute rebuilds at once (one layer, or one stage), not stored
  double total() const { return params + grads + optimizer + activations + workspace; }
  int device = 0;  // the pipeline rank with the largest total (the one reported)
  std::string summary()
      const;  // "12.3 GB (params 3.1, grads 3.1, optimizer 6.2, activations 0.1, work 0.01)"
};

// cuts: stage boundaries over model.blocks (pp·v stages, stage s on pipeline rank s % pp); schedule: the
// step's F/B/W lists for those stages on pp devices (its order decides what is stashed at once).
MemoryEstimate estimate_memory(const ModelDesc& model, const Layout& layout, int64_t micro_batch,
                               const std::vector<int>& cuts, const pipeline::Schedule& schedule,
                               const HardwareProfile& hw);

// Bytes a block stores for backward at micro-batch b, in the profile's element size, divided by tp if split.
double stored_activation_bytes(const BlockDesc& block, double micro_batch, int tp, const HardwareProfile& hw);

}  // namespace paraxis::cost
