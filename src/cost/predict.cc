// predict_step: a layout's stage durations from the cost model, then one simulated step.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <optional>

#include "cost/replicas.h"
#include "cost/schedule_cache.h"
#include "paraxis/core/error.h"
#include "paraxis/cost/conv.h"
#include "paraxis/cost/planner.h"
#include "paraxis/cost/spatial.h"
#include "paraxis/pipeline/dry_run.h"
#include "paraxis/pipeline/lower.h"
#include "paraxis/pipeline/partition.h"
#include "paraxis/pipeline/step.h"

namespace paraxis::cost {

using pipeline::ScheduleKind;

std::string Layout::describe() const {
  std::string s = fmt::format("dp{} tp{} pp{}", dp, tp, pp);
  if (sp > 1) s += fmt::format(" sp{}{}", sp, sp_fc_model ? " sp-fc-model" : "");
  if (pp > 1 || microbatches > 1) {
    s += fmt::format(" {} m{}", pipeline::schedule_kind_name(schedule), microbatches);
    if (virtual_stages > 1) s += fmt::format(" v{}", virtual_stages);
  }
  if (zero1) s += " zero1";
  if (recompute) s += " recompute";
  if (selective_recompute) s += " selective-recompute";
  if (sequence_parallel && tp > 1) s += " sequence-parallel";
  if (defer_wgrad) s += " defer-wgrad";
  return s;
}

std::string layout_problem(const ModelDesc& model, const Layout& l, int64_t global_batch) {
  if (l.dp < 1 || l.tp < 1 || l.pp < 1 || l.sp < 1 || l.microbatches < 1 || l.virtual_stages < 1)
    return fmt::format("dp {} tp {} pp {} sp {} m {} v {} must all be >= 1", l.dp, l.tp, l.pp, l.sp,
                       l.microbatches, l.virtual_stages);
  if (global_batch % (static_cast<int64_t>(l.dp) * l.microbatches) != 0)
    return fmt::format("global batch {} is not divisible by dp·m = {}·{} = {}", global_batch, l.dp,
                       l.microbatches, static_cast<int64_t>(l.dp) * l.microbatches);
  const std::string spatial =
      spatial_layout_problem(model, l.sp, l.tp, l.pp, global_batch / (int64_t{l.dp} * l.microbatches),
                             l.sp_fc_model ? SpFc::kModel : SpFc::kBatch);
  if (!spatial.empty()) return spatial;
  for (int64_t d : model.tp_divides)
    if (d % l.tp != 0) return fmt::format("tp {} does not divide {} attention heads", l.tp, d);
  if (model.tp_divides.empty() && l.tp > 1) {
    for (const BlockDesc& b : model.blocks)
      if (b.tp_split && b.matmuls > 0 && b.tp_allreduce_bytes_per_sample > 0) {
        // mlp/cnn: the split layer's width (its column-parallel output) must divide by tp
        const double width = b.out_bytes_per_sample / 4.0;
        if (std::fmod(width, l.tp) != 0)
          return fmt::format("tp {} does not divide the width {} of {}", l.tp, width, b.name);
        break;
      }
  }
  const int stages = l.pp * l.virtual_stages;
  if (stages > static_cast<int>(model.blocks.size()))
    return fmt::format("pp·v = {} stages exceed the model's {} blocks", stages, model.blocks.size());
  if (l.virtual_stages > 1 && l.schedule != ScheduleKind::kInterleaved1F1B)
    return fmt::format("v {} > 1 needs the interleaved-1f1b schedule", l.virtual_stages);
  if (l.schedule == ScheduleKind::kInterleaved1F1B && l.virtual_stages > 1 &&
      (l.pp < 2 || l.microbatches % l.pp != 0))
    return fmt::format("interleaved-1f1b needs pp >= 2 and m a multiple of pp (pp {}, m {})", l.pp,
                       l.microbatches);
  return "";
}

namespace {

// Does the engine defer this block's weight gradient under Layout::defer_wgrad? Only Linear layers keep
// their micro-batches (Layer::defer_weight_grads); a block is one Linear here (mlp, cnn head, lm_head).
bool defers_weight_pass(const Layout& l, const BlockDesc& blk) {
  return l.defer_wgrad && blk.kind == "linear" && blk.gemm_in > 0;
}

// The (in, out) features of a block's Linear as one device computes it: Megatron halves — a column-parallel
// Linear splits its outputs, a row-parallel one its inputs.
std::pair<double, double> device_gemm(const BlockDesc& blk, int tp) {
  const bool split_out = blk.tp_split && blk.tp_allreduce_bwd > 0, split_in = blk.tp_split && !split_out;
  return {static_cast<double>(blk.gemm_in) / (split_in ? tp : 1),
          static_cast<double>(blk.gemm_out) / (split_out ? tp : 1)};
}

struct StageCost {
  double F = 0, I = 0, W = 0;
  std::vector<double> block_F, block_I;  // each block's forward and input pass, in block order
  std::vector<double> block_W;      // each block's weight pass, in block order (when its gradients are final)
  std::vector<double> block_flush;  // each block's share of the deferred flush (0: not deferred)
  double flush = 0;                 // the stage's deferred weight gradients: once per step
};

MegatronOptions megatron_options(const Layout& l) {
  return {.tp = l.tp, .sequence_parallel = l.sequence_parallel, .selective_recompute = l.selective_recompute};
}

// A symbolic GPT block's passes, kernel by kernel (transformer.h), collectives included.
LayerPassTimes kernel_pass_times(const BlockDesc& blk, double b, const Layout& l, const HardwareProfile& hw) {
  const MegatronOptions o = megatron_options(l);
  if (blk.kind == "transformer_block") return layer_pass_times(blk.dims, b, o, hw);
  const LinkProfile link = hw.collective_link(l.tp, 1);
  const int e            = hw.bytes_per_element;
  auto time              = [&](const PassKernels& k) { return kernels_time(k, hw, link, l.tp); };
  if (blk.kind == "embedding")
    return {time(embedding_forward(blk.dims, b, o, e)), 0.0,
            time(embedding_backward_weight(blk.dims, b, o, e))};
  return {time(head_forward(blk.dims, b, o, e)), time(head_backward_input(blk.dims, b, o, e)),
          time(head_backward_weight(blk.dims, b, o, e))};
}

// Compute time of every block pass of one stage at micro-batch b; `together`: every device of the node
// computes at the same time (the concurrent rates and bandwidth of the profile).
StageCost stage_cost(const ModelDesc& model, int first, int last, double b, const Layout& l,
                     const HardwareProfile& hw, bool together) {
  StageCost c;
  const int concurrent      = together ? std::min(l.devices(), hw.devices_per_node) : 1;
  const LinkProfile tp_link = hw.collective_link(l.tp, 1);
  std::optional<LayerPassTimes> layer;  // a symbolic GPT's layers are alike: priced once per stage
  for (int i = first; i < last; ++i) {
    const BlockDesc& blk = model.blocks[i];
    const double F0 = c.F, I0 = c.I;
    auto done = [&] { c.block_F.push_back(c.F - F0), c.block_I.push_back(c.I - I0); };
    if (blk.dims.known()) {
      const bool is_layer = blk.kind == "transformer_block";
      if (!is_layer || !layer) {
        const LayerPassTimes k = kernel_pass_times(blk, b, l, hw);
        if (is_layer) layer = k;
        c.F += k.forward, c.I += k.backward_input, c.W += k.backward_weight;
        c.block_W.push_back(k.backward_weight);
      } else {
        c.F += layer->forward, c.I += layer->backward_input, c.W += layer->backward_weight;
        c.block_W.push_back(layer->backward_weight);
      }
      c.block_flush.push_back(0.0);
      done();
      continue;
    }
    Cost x               = blk.at_batch(b);
    const double split   = blk.tp_split ? static_cast<double>(l.tp) : 1.0;
    const double rows    = blk.rows_per_sample * b;
    const auto [in, out] = device_gemm(blk, l.tp);
    auto t               = [&](double flops, double bytes, PassKind kind) {
      if (blk.conv)
        return conv_pass_time(blk, flops / split, bytes / split, b, l.tp, kind, hw,
                                            {l.threads_per_device, concurrent});
      return pass_time(flops / split, bytes / split, blk.matmuls, hw, l.threads_per_device, concurrent, kind,
                                     rows, in, out);
    };
    c.F += t(x.fwd_flops, x.fwd_bytes, PassKind::kForward);
    const bool input_pass = !(i == 0 && model.first_block_skips_input_pass);  // the engine's rule
    if (input_pass) c.I += t(x.bwd_input_flops, x.bwd_input_bytes, PassKind::kBackwardInput);
    if (defers_weight_pass(l, blk)) {
      // One GEMM with K = m·b rows over the kept micro-batches, after copying their inputs (rows, in) and
      // output gradients (rows, out) together (read + write).
      const double m    = l.microbatches;
      const Cost all    = blk.at_batch(m * b);
      const double copy = 2.0 * rows * m * (in + out) * 4.0 * (hw.bytes_per_element / 4.0);
      const double gemm =
          pass_time(all.bwd_weight_flops / split, all.bwd_weight_bytes / split, blk.matmuls, hw,
                    l.threads_per_device, concurrent, PassKind::kBackwardWeight, rows * m, in, out);
      const double flush = gemm + copy / hw.bandwidth(concurrent > 1);
      c.block_W.push_back(0.0);
      c.block_flush.push_back(flush);
      c.flush += flush;
    } else {
      c.block_W.push_back(t(x.bwd_weight_flops, x.bwd_weight_bytes, PassKind::kBackwardWeight));
      c.block_flush.push_back(0.0);
      c.W += c.block_W.back();
    }
    if (l.tp > 1 && blk.tp_split) {  // Megatron's blocking all-reduces inside the layer
      const double bytes = blk.tp_allreduce_bytes_per_sample * b * hw.bytes_per_element / 4.0;
      c.F += blk.tp_allreduce_fwd * allreduce_time(bytes, l.tp, tp_link);
      if (input_pass) c.I += blk.tp_allreduce_bwd * allreduce_time(bytes, l.tp, tp_link);
    }
    done();
  }
  return c;
}

// Does computing at the same time as the node's other devices change this profile's figures?
bool concurrency_matters(const HardwareProfile& hw) {
  return hw.concurrent_efficiency < 1 || !hw.row_rates_concurrent.empty() ||
         (hw.memory_bandwidth_concurrent > 0 && hw.memory_bandwidth_concurrent != hw.memory_bandwidth);
}

}  // namespace

const CachedSchedule& ScheduleCache::get(ScheduleKind kind, int pp, int m, int v) {
  auto key = std::make_tuple(static_cast<int>(kind), pp, m, v);
  auto it  = cache_.find(key);
  if (it != cache_.end()) return it->second;
  CachedSchedule c;
  c.compute           = pipeline::generate_schedule({kind, pp, m, v});
  c.lowered           = pipeline::lower_send_recv(c.compute);
  c.lowered_recompute = pipeline::lower_send_recv(pipeline::with_recompute(c.compute));
  return cache_.emplace(key, std::move(c)).first->second;
}

namespace {

// Each block's parameter sizes as one device holds them (tp-split blocks divide by tp), for the bucket
// layout.
std::vector<std::vector<int64_t>> block_numels(const ModelDesc& model, int tp) {
  std::vector<std::vector<int64_t>> numels;
  for (const BlockDesc& blk : model.blocks) {
    std::vector<int64_t> sizes = blk.param_sizes;
    if (sizes.empty() && blk.params > 0) sizes = {blk.params};
    if (blk.tp_split)
      for (int64_t& n : sizes) n = std::max<int64_t>(1, n / tp);
    numels.push_back(sizes);
  }
  return numels;
}

std::vector<pipeline::GradBucket> device_buckets(const ModelDesc& model, const Layout& l,
                                                 const std::vector<int>& cuts,
                                                 const std::vector<int>& stage_device, int r) {
  return pipeline::layout_grad_buckets(
      pipeline::device_param_slots(block_numels(model, l.tp), cuts, stage_device, r),
      pipeline::grad_bucket_elems(l.bucket_bytes));
}

// The step's own list for this layout (pipeline::generate_step's tail on the cached lowered pipeline), from
// the functions the engine uses: the cuts, each device's parameters in flat order, the bucket layout.
pipeline::Schedule step_list(const ModelDesc& model, const Layout& l, const std::vector<int>& cuts,
                             const pipeline::Schedule& lowered) {
  pipeline::StepSpec spec;
  spec.schedule = {l.schedule, l.pp, l.microbatches, l.virtual_stages};
  spec.dp       = l.grad_group();  // the gradients are averaged over dp × sp (the runtime's DataParallel)
  spec.zero1    = l.zero1;
  spec.clip     = l.clip;
  spec.cuts     = cuts;
  for (const BlockDesc& blk : model.blocks) spec.deferred.push_back(defers_weight_pass(l, blk) ? 1 : 0);
  if (l.grad_group() > 1 && !l.zero1)
    for (int r = 0; r < l.pp; ++r)
      spec.buckets.push_back(device_buckets(model, l, cuts, lowered.stage_device, r));
  return pipeline::add_step_tail(lowered, spec);
}

// Prices one layout's step list: stage durations from the cost model, the tail from the bytes it moves.
class StepPricer {
 public:
  StepPricer(const ModelDesc& model, const Layout& l, int64_t global_batch, const HardwareProfile& hw,
             const CachedSchedule& sched, const SpatialPricing* spatial)
      : model_(model),
        spatial_(spatial),
        l_(l),
        hw_(hw),
        sched_(sched),
        stages_(l.pp * l.virtual_stages),
        b_(static_cast<double>(global_batch / (static_cast<int64_t>(l.dp) * l.microbatches))),
        e_(hw.bytes_per_element / 4.0),
        dp_link_(hw.collective_link(l.grad_group(), l.tp)) {  // dp peers are tp ranks apart (tp fastest)
    cuts_ = pipeline::partition_stages(model.partition_costs, stages_).cuts;
    step_ = step_list(model, l, cuts_, l.recompute ? sched.lowered_recompute : sched.lowered);
    // Devices of one node computing at the same time share its memory system (CPU cores): the profile's
    // concurrent rates apply to the share of a device's compute during which another one computes. dp × tp
    // replicas of a pipeline rank always compute together; between pipeline ranks the share comes from a
    // first simulation at the rates alone.
    const int node_devices = std::min(l.devices(), hw.devices_per_node);
    contended_             = node_devices > 1 && concurrency_matters(hw);
    replicas_              = contended_ && l.dp * l.tp * l.sp > 1;
    stage_costs(node_devices);
  }

  const std::vector<int>& cuts() const { return cuts_; }
  const pipeline::Schedule& step() const { return step_; }
  double device_params(int r) const { return device_params_[r]; }

  // The share of each pipeline rank's compute that runs beside another device of its node.
  std::vector<double> shared() const {
    std::vector<double> shared(l_.pp, replicas_ ? 1.0 : 0.0);
    if (contended_ && !replicas_ && l_.pp > 1) {
      SimInput first        = input(shared);
      first.measure_overlap = true;
      shared                = simulate(step_, first, false).overlap;
    }
    return shared;
  }

  SimInput input(const std::vector<double>& shared) const {
    SimInput in;
    in.layout         = fmt::format("{} (predicted)", l_.describe());
    in.layout_info    = {.dp        = l_.dp,
                         .tp        = l_.tp,
                         .pp        = l_.pp,
                         .sp        = l_.sp,
                         .m         = l_.microbatches,
                         .v         = l_.virtual_stages,
                         .schedule  = pipeline::schedule_kind_name(l_.schedule),
                         .placement = l_.pp > 1 && l_.microbatches == 1,
                         .known     = true};
    in.rendezvous     = hw_.intra_node.rendezvous && l_.devices() <= hw_.devices_per_node;
    in.blocking_sends = model_.blocks.back().dims.known();
    in.buckets_share_core =
        dp_link_.shares_compute_core && l_.devices() <= hw_.devices_per_node && l_.grad_group() > 1;
    for (int s = 0; s < stages_; ++s) stage_input(in, s, shared[sched_.lowered.stage_device[s]]);
    if (spatial_) in_pass_exchanges(in);
    if (spatial_ && spatial_->fc == SpFc::kModel) conv_gradient_sums(in);
    if (l_.grad_group() > 1 && !l_.zero1) bucket_inputs(in, shared);
    tail_inputs(in, shared);
    for (int r = 0; r < l_.pp; ++r) in.devices.push_back({r, 0, 0, r});
    return in;
  }

 private:
  const ModelDesc& model_;
  const SpatialPricing* spatial_;  // sp > 1: the in-pass exchanges, each in the stage holding its block
  const Layout& l_;
  const HardwareProfile& hw_;
  const CachedSchedule& sched_;
  const int stages_;
  const double b_, e_;
  const LinkProfile dp_link_;
  std::vector<int> cuts_;
  pipeline::Schedule step_;
  bool contended_ = false, replicas_ = false;
  std::vector<StageCost> alone_, together_;
  std::vector<double> device_params_;

  void stage_costs(int node_devices) {
    // A device of a multi-device layout that computes while the others wait (placement's stages, a
    // pipeline's fill and drain) runs at the rate measured with the devices taking turns, where it exists.
    const std::optional<HardwareProfile> in_turns =
        node_devices > 1 && hw_.has_turn_rates() ? std::optional(hw_.turn_rates_as_alone()) : std::nullopt;
    device_params_.assign(l_.pp, 0.0);
    for (int s = 0; s < stages_; ++s) {
      const int first = cuts_[s], last = cuts_[s + 1];
      alone_.push_back(stage_cost(model_, first, last, b_, l_, in_turns ? *in_turns : hw_, false));
      together_.push_back(contended_ ? stage_cost(model_, first, last, b_, l_, hw_, true) : alone_.back());
      for (int i = first; i < last; ++i)
        device_params_[sched_.lowered.stage_device[s]] +=
            model_.blocks[i].tp_split ? static_cast<double>(model_.blocks[i].params) / l_.tp
                                      : static_cast<double>(model_.blocks[i].params);
    }
    // The loss (softmax cross-entropy over the last stage's logits) is memory-bound work in the last forward.
    if (model_.blocks.back().dims.known()) return;  // the head's cross-entropy is among its kernels
    const double logits = model_.blocks.back().out_bytes_per_sample * b_;
    alone_.back().F += pass_time(5.0 * logits / 4.0, 3.0 * logits, 0, hw_, l_.threads_per_device, 1);
    together_.back().F += pass_time(5.0 * logits / 4.0, 3.0 * logits, 0, hw_, l_.threads_per_device,
                                    contended_ ? node_devices : 1);
    if (spatial_) add_exchanges();
  }

  // Domain parallelism's exchanges run inside the passes of the stage holding their block and block them (as
  // the runtime's do).
  void add_exchanges() {
    for (const BlockExchange& x : spatial_->exchanges) {
      const int s = stage_of(x.block);
      for (StageCost* c : {&alone_[s], &together_[s]})
        c->F += exposed_forward(x, *c), c->I += exposed_backward(x, *c);
    }
  }

  // What of an exchange its block's pass waits for, given the stage's block times (a conv's halo overlaps).
  double exposed_forward(const BlockExchange& x, const StageCost& c) const {
    return x.forward_exposed(c.block_F[x.block - cuts_[stage_of(x.block)]]);
  }
  double exposed_backward(const BlockExchange& x, const StageCost& c) const {
    return x.backward_exposed(c.block_I[x.block - cuts_[stage_of(x.block)]]);
  }

  int stage_of(int block) const {
    return static_cast<int>(std::upper_bound(cuts_.begin(), cuts_.end(), block) - cuts_.begin()) - 1;
  }

  // Where each exchange falls in its stage's pass, as a fraction of the pass's compute before it: the forward
  // gathers before the block computes; a full backward runs the input passes last block first (each
  // block's exchange after its own input pass), then the weight passes (the runtime's order).
  void in_pass_exchanges(SimInput& in) const {
    std::vector<double> comm_f(stages_, 0.0), comm_b(stages_, 0.0);
    const auto exposed_f = [this](const BlockExchange& x) {
      return exposed_forward(x, alone_[stage_of(x.block)]);
    };
    const auto exposed_b = [this](const BlockExchange& x) {
      return exposed_backward(x, alone_[stage_of(x.block)]);
    };
    for (const BlockExchange& x : spatial_->exchanges)
      comm_f[stage_of(x.block)] += exposed_f(x), comm_b[stage_of(x.block)] += exposed_b(x);
    in.forward_comm.assign(stages_, {}), in.backward_comm.assign(stages_, {});
    for (const BlockExchange& x : spatial_->exchanges) {
      if (x.fc_collective && x.forward_s == 0) continue;  // a backward-only all-reduce (column-parallel)
      const int s = stage_of(x.block), first = cuts_[s];
      const StageCost& c = alone_[s];
      const double F     = c.F - comm_f[s];
      double before      = 0;
      for (int i = first; i < x.block; ++i) before += c.block_F[i - first];
      in.forward_comm[s].push_back({F > 0 ? before / F : 0.0, x.forward_s, x.forward_s - exposed_f(x),
                                    x.forward_bytes, trace_kind(x)});
    }
    for (auto x = spatial_->exchanges.rbegin(); x != spatial_->exchanges.rend(); ++x) {
      if (!x->backward) continue;
      const int s = stage_of(x->block), first = cuts_[s];
      const StageCost& c = alone_[s];
      const double B     = c.I - comm_b[s] + c.W;
      double before      = 0;
      for (size_t i = x->block - first; i < c.block_I.size(); ++i) before += c.block_I[i];
      in.backward_comm[s].push_back({B > 0 ? before / B : 0.0, x->backward_s, x->backward_s - exposed_b(*x),
                                     x->backward_bytes, trace_kind(*x)});
    }
  }

  // --sp-fc model: each conv block's gradients summed over sp once per step, when final (the runtime's
  // gradients_final: right after the block's weight pass in the stage's last B or W, blocking it).
  void conv_gradient_sums(SimInput& in) const {
    int layout = 0;
    for (const BlockExchange& x : spatial_->exchanges)
      if (x.layout_change) layout = x.block;
    const LinkProfile link = hw_.collective_link(l_.sp, 1);
    in.final_comm.assign(stages_, {});
    for (int s = 0; s < stages_; ++s) {
      const StageCost& c = alone_[s];
      double before      = 0;  // the weight passes run last block first
      for (int i = cuts_[s + 1]; i-- > cuts_[s];) {
        before += c.block_W[i - cuts_[s]];
        if (i >= layout || model_.blocks[i].params == 0) continue;
        const double bytes = 4.0 * static_cast<double>(model_.blocks[i].params);  // fp32 gradients
        in.final_comm[s].push_back({c.W > 0 ? before / c.W : 1.0, allreduce_time(bytes, l_.sp, link), 0.0,
                                    static_cast<int64_t>(bytes), trace::Kind::kAllReduce});
      }
    }
  }

  // The event the runtime records for an exchange: a halo, a layout change or an FC shard's all-reduce.
  static trace::Kind trace_kind(const BlockExchange& x) {
    return x.fc_collective   ? trace::Kind::kAllReduce
           : x.layout_change ? trace::Kind::kLayout
                             : trace::Kind::kHalo;
  }

  static double mix(double a, double t, double f) { return a + f * (t - a); }

  void stage_input(SimInput& in, int s, double f) const {
    const int first = cuts_[s], last = cuts_[s + 1];
    // Each action the runtime interprets costs its fixed overhead once (a full backward B is one action).
    const double a = hw_.action_overhead_s;
    StageDurations d;
    d.forward         = mix(alone_[s].F, together_[s].F, f) + a;
    const double I    = mix(alone_[s].I, together_[s].I, f);
    const double W    = mix(alone_[s].W, together_[s].W, f);
    d.backward_weight = W + a;
    d.backward_input  = I + a;  // a recompute is its own action (R), priced as the forward
    d.backward        = I + W + a;
    in.stages.push_back(d);
    if (l_.defer_wgrad) in.flush.push_back(mix(alone_[s].flush, together_[s].flush, f) + a);
    // Pipeline neighbours are dp·tp ranks apart: the group spans every device. A symbolic GPT under tp
    // sends 1/tp of the activation from each tp rank (Megatron's scatter-gather across nodes, Narayanan et
    // al. 2021 §4.1; with sequence parallelism the activation is that shard already).
    const LinkProfile& pp_link = hw_.link_for(l_.devices());
    const double shard         = model_.blocks[last - 1].dims.known() ? l_.tp : 1.0;
    const double fwd_bytes     = model_.blocks[last - 1].out_bytes_per_sample * b_ * e_ / shard;
    const double bwd_bytes =
        (first == 0 ? 0.0 : model_.blocks[first - 1].out_bytes_per_sample) * b_ * e_ / shard;
    in.send_forward.push_back(p2p_time(fwd_bytes, pp_link));
    in.send_backward.push_back(first == 0 ? 0.0 : p2p_time(bwd_bytes, pp_link));
    const bool gathers        = shard > 1 && !l_.sequence_parallel;  // with it, the activation stays sharded
    const LinkProfile tp_link = hw_.collective_link(l_.tp, 1);
    in.gather_forward.push_back(gathers ? all_gather_time(fwd_bytes * shard, l_.tp, tp_link) : 0.0);
    in.gather_backward.push_back(gathers && first > 0 ? all_gather_time(bwd_bytes * shard, l_.tp, tp_link)
                                                      : 0.0);
    in.forward_bytes.push_back(static_cast<int64_t>(fwd_bytes));
    in.backward_bytes.push_back(static_cast<int64_t>(bwd_bytes));
  }

  // When, within the action before REDUCE_GRADb (the one completing the bucket), its last gradient is
  // written: weight passes and flushes run last block first, so its earliest block of that stage ends it.
  double ready_fraction(const pipeline::Action& x, const pipeline::GradBucket& bucket, double f) const {
    const int s = x.stage, first = cuts_[s];
    const bool flush = x.kind == pipeline::ActionKind::kFlushWeight;
    int earliest     = -1;
    for (int blk : bucket.blocks)
      if (blk >= first && blk < cuts_[s + 1] && defers_weight_pass(l_, model_.blocks[blk]) == flush)
        earliest = earliest < 0 ? blk : std::min(earliest, blk);
    if (earliest < 0) return 1.0;
    double done = 0, total = 0;
    const auto& a = flush ? alone_[s].block_flush : alone_[s].block_W;
    const auto& t = flush ? together_[s].block_flush : together_[s].block_W;
    for (int j = static_cast<int>(a.size()); j-- > 0;) {
      total += mix(a[j], t[j], f);
      if (j + first >= earliest) done = total;
    }
    if (x.kind == pipeline::ActionKind::kFullBackward) {
      const double I = mix(alone_[s].I, together_[s].I, f);
      done += I, total += I;
    }
    return total > 0 ? std::min(1.0, done / total) : 1.0;
  }

  void bucket_inputs(SimInput& in, const std::vector<double>& shared) const {
    in.bucket_time.resize(l_.pp), in.bucket_ready.resize(l_.pp), in.bucket_bytes.resize(l_.pp);
    for (int r = 0; r < l_.pp; ++r) {
      const auto& list   = step_.actions[r];
      const auto buckets = device_buckets(model_, l_, cuts_, sched_.lowered.stage_device, r);
      for (size_t i = 0, x = 0; i < list.size(); ++i) {
        if (list[i].kind != pipeline::ActionKind::kReduceGrad) {
          x = i;
          continue;
        }
        const pipeline::GradBucket& bk = buckets[list[i].bucket()];
        const double bytes             = 4.0 * static_cast<double>(bk.end - bk.begin);  // fp32 gradients
        in.bucket_time[r].push_back(allreduce_time(bytes, l_.grad_group(), dp_link_));
        in.bucket_ready[r].push_back(ready_fraction(list[x], bk, shared[r]));
        in.bucket_bytes[r].push_back(static_cast<int64_t>(bytes));
      }
    }
  }

  // Optimizer step, one fused memory-bound pass over the parameters: SGD with momentum reads p, g, buf and
  // writes p, buf and the zeroed g (6 passes); AdamW reads p, g, m, v and writes p, m, v, g (8); clipping
  // first reads the gradients once for their norm (GRAD_NORM). ZeRO-1 steps 1/dp of the parameters after a
  // reduce-scatter of the gradient, then copies its shard out and all-gathers the parameters.
  void tail_inputs(SimInput& in, const std::vector<double>& shared) const {
    const double passes = l_.optimizer == "sgd" ? 6.0 : 8.0;
    const int group     = l_.grad_group();
    const bool zero     = l_.zero1 && group > 1;
    for (int r = 0; r < l_.pp; ++r) {
      const double bw    = hw_.bandwidth(false) + shared[r] * (hw_.bandwidth(true) - hw_.bandwidth(false));
      const double shard = zero ? device_params_[r] / group : device_params_[r];
      const double bytes = device_params_[r] * hw_.bytes_per_element;
      in.opt_step.push_back(shard * 4.0 * passes / bw + hw_.kernel_overhead_s + hw_.step_overhead_s);
      in.grad_norm.push_back(l_.clip ? shard * 4.0 / bw : 0.0);
      in.reduce_scatter.push_back(zero ? reduce_scatter_time(4.0 * device_params_[r], group, dp_link_) : 0.0);
      in.all_gather.push_back(zero ? bytes / bw + all_gather_time(bytes, group, dp_link_) : 0.0);
      in.zero_bytes.push_back(static_cast<int64_t>(4.0 * device_params_[r]));
    }
  }
};

// Bytes one device sends per step on each axis (the busiest device of each).
CommVolume comm_volume(const ModelDesc& model, const Layout& l, const SimInput& in, const StepPricer& pricer,
                       double b, double e, double bytes_per_element) {
  CommVolume v;
  for (int r = 0; r < l.pp; ++r)
    v.dp = std::max(v.dp, allreduce_bytes_sent(pricer.device_params(r) * 4.0, l.grad_group()));  // fp32 grads
  double tp_bytes = 0;
  if (l.tp > 1)
    for (const BlockDesc& blk : model.blocks)
      if (blk.tp_split)
        tp_bytes += (blk.tp_allreduce_fwd + blk.tp_allreduce_bwd) *
                    allreduce_bytes_sent(blk.tp_allreduce_bytes_per_sample * b * e, l.tp);
  v.tp                = tp_bytes * l.microbatches / l.pp;  // a device holds about 1/pp of the layers
  const size_t stages = in.forward_bytes.size();
  for (size_t s = 0; s + 1 < stages; ++s)
    v.pp = std::max(v.pp, static_cast<double>(in.forward_bytes[s] + in.backward_bytes[s]) * l.microbatches);
  return v;
}

}  // namespace

PredictedStep predict_with(const ModelDesc& model, const Layout& l, int64_t global_batch,
                           const HardwareProfile& hw, ScheduleCache& cache, bool record_trace) {
  const std::string problem = layout_problem(model, l, global_batch);
  PX_USER_CHECK(problem.empty(), "layout {}: {}", l.describe(), problem);
  PredictedStep p;
  p.layout                    = l;
  p.micro_batch               = global_batch / (static_cast<int64_t>(l.dp) * l.microbatches);
  const CachedSchedule& sched = cache.get(l.schedule, l.pp, l.microbatches, l.virtual_stages);
  // sp > 1: the busiest member's blocks and every exchange
  const SpatialPricing* spatial =
      l.sp > 1 ? &cache.spatial(model, l.sp, p.micro_batch, hw, l.fc_model() ? SpFc::kModel : SpFc::kBatch)
               : nullptr;
  const ModelDesc& priced = spatial ? spatial->model : model;
  const StepPricer pricer(priced, l, global_batch, hw, sched, spatial);
  p.stage_cuts     = pricer.cuts();
  SimInput in      = pricer.input(pricer.shared());
  SimResult sim    = simulate(pricer.step(), in, record_trace);
  p.step_s         = sim.step_time;
  p.bubble         = sim.bubble;
  p.utilization    = sim.utilization;
  int busiest      = static_cast<int>(std::max_element(sim.busy.begin(), sim.busy.end()) - sim.busy.begin());
  p.compute_s      = sim.busy[busiest];
  p.exposed_comm_s = sim.step_time - sim.compute_end - in.opt_step[busiest] - in.grad_norm[busiest];
  if (p.exposed_comm_s < 1e-9 * sim.step_time) p.exposed_comm_s = 0;  // rounding, not communication
  if (record_trace) p.trace = expand_replicas(std::move(sim.trace), l.dp, l.tp, l.sp);
  if (record_trace) p.schedule = pricer.step();
  p.memory = estimate_memory(priced, l, p.micro_batch, p.stage_cuts, sched.compute, hw);
  p.comm = comm_volume(priced, l, in, pricer, static_cast<double>(p.micro_batch), hw.bytes_per_element / 4.0,
                       hw.bytes_per_element);
  p.comm_split = split_comm(priced, l, static_cast<double>(p.micro_batch), spatial, hw);
  if (l.sp > 1) p.comm.dp = p.comm_split.batch_bytes;
  if (l.fc_model()) p.comm.tp = p.comm_split.model_bytes;  // the FC shards' all-reduces over sp
  p.comm_split.batch_bytes = p.comm.dp;                    // the busiest pipeline rank's
  p.comm.sp                = p.comm_split.domain_bytes();
  p.note                   = fmt::format(
                        "predicted: one pipeline group of {} device(s) simulated; its {} data-{} and tensor-parallel "
                                          "replica(s) run the same timeline{}",
                        l.pp, l.dp * l.tp * l.sp, l.sp > 1 ? ", spatial-" : "",
      l.sp > 1 ? fmt::format(" (the spatial group's busiest member's, member {})", spatial->member) : "");
  if (in.blocking_sends && l.pp > 1)
    p.note += fmt::format("; pipeline transfers as Megatron-LM runs them: the sender waits for each{}",
                          in.gather_forward.empty() || in.gather_forward[0] == 0
                              ? ""
                              : ", each tp rank sends 1/tp and the receiver all-gathers it over its node");
  return p;
}

namespace {

// LinearCalls::reuse_bytes: fp32 parameters and gradients (tp shards) and the activations of `b` samples of
// the blocks each pipeline rank holds (its v chunks of the balanced cut), the largest over ranks.
double reuse_bytes(const ModelDesc& model, const Layout& l, double b) {
  const int stages      = l.pp * l.virtual_stages;
  const int blocks      = static_cast<int>(model.blocks.size());
  std::vector<int> cuts = {0, blocks};
  if (stages > 1 && model.partition_costs.size() == model.blocks.size())
    cuts = pipeline::partition_stages(model.partition_costs, stages).cuts;
  std::vector<double> rank_bytes(l.pp, 0.0);
  rank_bytes[0] = model.input_bytes_per_sample * b;
  for (int c = 0; c + 1 < static_cast<int>(cuts.size()); ++c)
    for (int i = cuts[c]; i < cuts[c + 1]; ++i) {
      const BlockDesc& blk = model.blocks[i];
      const double params  = static_cast<double>(blk.params) / (blk.tp_split ? l.tp : 1);
      rank_bytes[c % l.pp] += 2.0 * 4.0 * params + blk.out_bytes_per_sample * b;
    }
  return *std::max_element(rank_bytes.begin(), rank_bytes.end());
}

}  // namespace

LinearCalls linear_calls(const ModelDesc& model, const Layout& l, int64_t global_batch) {
  const std::string problem = layout_problem(model, l, global_batch);
  PX_USER_CHECK(problem.empty(), "layout {}: {}", l.describe(), problem);
  const double b = static_cast<double>(global_batch / (static_cast<int64_t>(l.dp) * l.microbatches));
  LinearCalls calls;
  const ModelDesc member = l.sp > 1 ? describe_spatial_member(model, *model.spec, l.sp, l.sp - 1,
                                                              l.fc_model() ? SpFc::kModel : SpFc::kBatch)
                                    : ModelDesc{};
  for (const BlockDesc& blk : (l.sp > 1 ? member : model).blocks) {
    if (blk.kind != "linear" || blk.gemm_in <= 0) continue;  // the lookups stage_cost makes
    const auto [in, out] = device_gemm(blk, l.tp);
    const auto rows      = static_cast<int64_t>(blk.rows_per_sample * b);
    LinearCalls block;
    block.shapes = {{static_cast<int64_t>(in), static_cast<int64_t>(out)}};
    block.rows   = {rows};
    if (defers_weight_pass(l, blk) && l.microbatches > 1) block.rows.push_back(rows * l.microbatches);
    calls.merge(block);
  }
  calls.convs = conv_calls(model, l, b);
  if (l.pp > 1)
    calls.turn_shapes = calls.shapes, calls.turn_rows = calls.rows, calls.turn_convs = calls.convs;
  calls.reuse_bytes = reuse_bytes(l.sp > 1 ? member : model, l, b);
  return calls;
}

void LinearCalls::merge(const LinearCalls& more) {
  auto unite = [](auto& into, const auto& from) {
    for (const auto& x : from)
      if (std::find(into.begin(), into.end(), x) == into.end()) into.push_back(x);
  };
  unite(shapes, more.shapes);
  unite(rows, more.rows);
  unite(turn_shapes, more.turn_shapes);
  unite(turn_rows, more.turn_rows);
  unite(convs, more.convs);
  unite(turn_convs, more.turn_convs);
  reuse_bytes = std::max(reuse_bytes, more.reuse_bytes);
  std::sort(rows.begin(), rows.end());
  std::sort(turn_rows.begin(), turn_rows.end());
}

PredictedStep predict_step(const ModelDesc& model, const Layout& layout, int64_t global_batch,
                           const HardwareProfile& hw, bool record_trace) {
  ScheduleCache cache;
  return predict_with(model, layout, global_batch, hw, cache, record_trace);
}

PredictedStep predict_step(const ModelSpec& spec, const Layout& layout, int64_t global_batch,
                           const HardwareProfile& hw) {
  return predict_step(describe_model(spec), layout, global_batch, hw, true);
}

}  // namespace paraxis::cost
