#include "paraxis/cost/memory.h"

#include <fmt/format.h>

#include <algorithm>

#include "paraxis/core/error.h"
#include "paraxis/cost/planner.h"
#include "paraxis/cost/transformer.h"
#include "paraxis/pipeline/dry_run.h"

namespace paraxis::cost {

std::string MemoryEstimate::summary() const {
  return fmt::format(
      "{:.3g} GB (params {:.3g}, grads {:.3g}, optimizer {:.3g}, activations {:.3g}, work {:.3g})",
      total() / 1e9, params / 1e9, grads / 1e9, optimizer / 1e9, activations / 1e9, workspace / 1e9);
}

double stored_activation_bytes(const BlockDesc& block, double micro_batch, int tp,
                               const HardwareProfile& hw) {
  const double bytes =
      static_cast<double>(block.at_batch(micro_batch).activation_bytes) * hw.bytes_per_element / 4.0;
  return block.tp_split ? bytes / tp : bytes;
}

namespace {

// A symbolic GPT's layers store what Korthikanti et al.'s Table 2 says for the layout's options (16-bit
// figures, scaled to the profile's element size); other blocks what their Layer::cost reports.
double block_activation_bytes(const BlockDesc& blk, double b, const Layout& l, const HardwareProfile& hw,
                              bool full_recompute) {
  if (blk.kind != "transformer_block" || !blk.dims.known()) return stored_activation_bytes(blk, b, l.tp, hw);
  const MegatronOptions o{
      .tp = l.tp, .sequence_parallel = l.sequence_parallel, .selective_recompute = l.selective_recompute};
  return layer_activation_bytes(blk.dims, b, o, full_recompute) * hw.bytes_per_element / 2.0;
}

// What one stage keeps per stashed micro-batch under recompute, and its peak while one micro-batch is
// recomputed. A symbolic GPT is checkpointed layer by layer as Megatron-LM does (each layer's input kept,
// one layer's activations rebuilt at a time); our own models keep the stage's input and rebuild the stage.
std::pair<double, double> recompute_bytes(const ModelDesc& model, int first, int last, double b,
                                          const Layout& l, const HardwareProfile& hw) {
  double kept = 0, peak = 0, stage = 0;
  bool per_layer = false;
  for (int i = first; i < last; ++i) {
    const BlockDesc& blk = model.blocks[i];
    stage += block_activation_bytes(blk, b, l, hw, false);
    if (blk.kind == "transformer_block" && blk.dims.known()) {
      per_layer = true;
      kept += block_activation_bytes(blk, b, l, hw, true);
      peak = std::max(peak, block_activation_bytes(blk, b, l, hw, false));
    }
  }
  if (per_layer) return {kept, peak};
  const double e = hw.bytes_per_element;
  const double input =
      (first == 0 ? model.input_bytes_per_sample : model.blocks[first - 1].out_bytes_per_sample);
  return {input * b * e / 4.0, stage};
}

// Deferred weight gradients (Layout::defer_wgrad): every micro-batch's input (rows, in) and output gradient
// (rows, out) of a Linear stay until the step's flush, which copies them into one (m·rows, in) and one
// (m·rows, out) buffer.
double deferred_wgrad_bytes(const BlockDesc& blk, const Layout& l, double b, double e) {
  if (!l.defer_wgrad || blk.kind != "linear" || blk.gemm_in <= 0) return 0;
  const bool split_out = blk.tp_split && blk.tp_allreduce_bwd > 0;
  const bool split_in  = blk.tp_split && !split_out;
  const double in      = static_cast<double>(blk.gemm_in) / (split_in ? l.tp : 1);
  const double out     = static_cast<double>(blk.gemm_out) / (split_out ? l.tp : 1);
  return l.microbatches * blk.rows_per_sample * b * (in + out) * e;
}

}  // namespace

MemoryEstimate estimate_memory(const ModelDesc& model, const Layout& layout, int64_t micro_batch,
                               const std::vector<int>& cuts, const pipeline::Schedule& schedule,
                               const HardwareProfile& hw) {
  const double e = hw.bytes_per_element, b = static_cast<double>(micro_batch);
  const int stages             = static_cast<int>(cuts.size()) - 1;
  const double state_per_param = layout.optimizer == "sgd" ? 4.0 : (e == 2 ? 12.0 : 8.0);
  PX_CHECK(schedule.num_stages == stages && schedule.num_devices == layout.pp,
           "estimate_memory: a schedule of {} stages on {} devices for {} stages on pp {}",
           schedule.num_stages, schedule.num_devices, stages, layout.pp);
  std::vector<double> held(stages, 0.0);  // per stage, what one stashed micro-batch holds
  MemoryEstimate worst;
  std::vector<MemoryEstimate> ranks(layout.pp);
  std::vector<double> recompute_peak(layout.pp, 0.0), largest_output(layout.pp, 0.0);
  std::vector<double> largest_flush(layout.pp, 0.0), params(layout.pp, 0.0);
  for (int s = 0; s < stages; ++s) {
    const int rank   = s % layout.pp;
    double stage_act = 0;
    for (int i = cuts[s]; i < cuts[s + 1]; ++i) {
      const BlockDesc& blk = model.blocks[i];
      params[rank] +=
          blk.tp_split ? static_cast<double>(blk.params) / layout.tp : static_cast<double>(blk.params);
      stage_act += block_activation_bytes(blk, b, layout, hw, false);
      largest_output[rank] = std::max(largest_output[rank], blk.out_bytes_per_sample * b * e / 4.0);
      const double kept    = deferred_wgrad_bytes(blk, layout, b, e);
      ranks[rank].activations += kept;  // deferred weight gradients: kept until the step's flush
      largest_flush[rank] = std::max(largest_flush[rank], kept);
    }
    held[s] = stage_act;
    if (layout.recompute) {
      const auto [kept, peak] = recompute_bytes(model, cuts[s], cuts[s + 1], b, layout, hw);
      held[s]                 = kept;
      recompute_peak[rank]    = std::max(recompute_peak[rank], peak);
    }
  }
  const std::vector<double> stash = pipeline::peak_stash_bytes(schedule, held);
  for (int rank = 0; rank < layout.pp; ++rank) {
    MemoryEstimate& m = ranks[rank];
    m.device          = rank;
    m.activations += stash[rank] + recompute_peak[rank];
    m.rebuilt   = recompute_peak[rank];
    m.params    = params[rank] * (e + hw.weight_copy_bytes);
    m.grads     = params[rank] * 4.0;  // fp32 gradients, also when training in 16-bit (Megatron's main_grad)
    m.optimizer = params[rank] * state_per_param / (layout.zero1 ? layout.grad_group() : 1);
    m.workspace = std::max(2 * largest_output[rank], largest_flush[rank]);
    if (rank == 0 || m.total() > worst.total()) worst = m;
  }
  return worst;
}

}  // namespace paraxis::cost
