// paraxis/cost/memory.h — bytes each device holds at its peak: parameters, gradients, optimizer state,
// stashed activations under the schedule, and a working set.
//
//   std::vector<int> stash = pipeline::dry_run(schedule).peak_stash;      // micro-batches held per stage
//   MemoryEstimate mem = estimate_memory(model, layout, /*micro_batch=*/16, cuts, stash, hw);
//   mem.total();  mem.summary();     // "1.23 GB (params 0.31, grads 0.31, optimizer 0.62, activations ...)"
//
// Per device (the pipeline rank with the most, over every stage it owns; tp-split blocks divided by tp):
//   params, grads        parameter count × element size (fp32 here; bf16 on the GPU presets)
//   optimizer            AdamW: m and v in fp32 (8 B/param) plus an fp32 master copy when training in 16-bit
//                        (the 16Ψ of ZeRO, Rajbhandari et al. 2020); SGD with momentum: 4 B/param.
//                        ZeRO-1 divides it by dp.
//   activations          Σ over the device's stages: peak stashed micro-batches × what the stage's layers
//   keep
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

namespace paraxis::cost {

struct Layout;

struct MemoryEstimate {
  double params = 0, grads = 0, optimizer = 0, activations = 0, workspace = 0;
  double total() const { return params + grads + optimizer + activations + workspace; }
  int device = 0;  // the pipeline rank with the largest total (the one reported)
  std::string summary()
      const;  // "12.3 GB (params 3.1, grads 3.1, optimizer 6.2, activations 0.1, work 0.01)"
};

// cuts: stage boundaries over model.blocks (pp·v stages, stage s on pipeline rank s % pp); peak_stash: per
// stage, the most micro-batches whose activations it holds at once under the schedule.
MemoryEstimate estimate_memory(const ModelDesc& model, const Layout& layout, int64_t micro_batch,
                               const std::vector<int>& cuts, const std::vector<int>& peak_stash,
                               const HardwareProfile& hw);

// Bytes a block stores for backward at micro-batch b, in the profile's element size, divided by tp if split.
double stored_activation_bytes(const BlockDesc& block, double micro_batch, int tp, const HardwareProfile& hw);

}  // namespace paraxis::cost
