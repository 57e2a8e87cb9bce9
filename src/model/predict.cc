// predict_step: a layout's stage durations from the cost model, then one simulated step.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <optional>

#include "model/schedule_cache.h"
#include "paraxis/core/error.h"
#include "paraxis/model/planner.h"
#include "paraxis/pipeline/dry_run.h"
#include "paraxis/pipeline/lower.h"
#include "paraxis/pipeline/partition.h"

namespace paraxis::model {

using pipeline::ScheduleKind;

std::string Layout::describe() const {
  std::string s = fmt::format("dp{} tp{} pp{}", dp, tp, pp);
  if (pp > 1 || microbatches > 1) {
    s += fmt::format(" {} m{}", pipeline::schedule_kind_name(schedule), microbatches);
    if (virtual_stages > 1) s += fmt::format(" v{}", virtual_stages);
  }
  if (zero1) s += " zero1";
  if (recompute) s += " recompute";
  if (defer_wgrad) s += " defer-wgrad";
  return s;
}

std::string layout_problem(const ModelDesc& model, const Layout& l, int64_t global_batch) {
  if (l.dp < 1 || l.tp < 1 || l.pp < 1 || l.microbatches < 1 || l.virtual_stages < 1)
    return fmt::format("dp {} tp {} pp {} m {} v {} must all be >= 1", l.dp, l.tp, l.pp, l.microbatches,
                       l.virtual_stages);
  if (global_batch % (static_cast<int64_t>(l.dp) * l.microbatches) != 0)
    return fmt::format("global batch {} is not divisible by dp·m = {}·{} = {}", global_batch, l.dp,
                       l.microbatches, static_cast<int64_t>(l.dp) * l.microbatches);
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

// The engine runs no input pass for a first Linear or convolution: the data needs no gradient (nor, under
// tp, its all-reduce).
bool skips_input_pass(const ModelDesc& model, int block) {
  if (block != 0) return false;
  const std::string& k = model.blocks[0].kind;
  return k == "linear" || k == "conv2d" || k == "column_parallel";
}

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
  std::vector<double> block_W;      // each block's weight pass, in block order (when its gradients are final)
  std::vector<double> block_flush;  // each block's share of the deferred flush (0: not deferred)
  double flush = 0;                 // the stage's deferred weight gradients: once per step
};

// Compute time of every block pass of one stage at micro-batch b; `together`: every device of the node
// computes at the same time (the concurrent rates and bandwidth of the profile).
StageCost stage_cost(const ModelDesc& model, int first, int last, double b, const Layout& l,
                     const HardwareProfile& hw, bool together) {
  StageCost c;
  const int concurrent       = together ? std::min(l.devices(), hw.devices_per_node) : 1;
  const LinkProfile& tp_link = hw.link_for(l.tp);
  for (int i = first; i < last; ++i) {
    const BlockDesc& blk = model.blocks[i];
    Cost x               = blk.at_batch(b);
    const double split   = blk.tp_split ? static_cast<double>(l.tp) : 1.0;
    const double rows    = blk.rows_per_sample * b;
    const auto [in, out] = device_gemm(blk, l.tp);
    auto t               = [&](double flops, double bytes, PassKind kind) {
      return pass_time(flops / split, bytes / split, blk.matmuls, hw, l.threads_per_device, concurrent, kind,
                                     rows, in, out);
    };
    c.F += t(x.fwd_flops, x.fwd_bytes, PassKind::kForward);
    const bool input_pass = !skips_input_pass(model, i);
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
  pipeline::Schedule compute = pipeline::generate_schedule({kind, pp, m, v});
  c.peak_stash               = pipeline::dry_run(compute).peak_stash;
  c.lowered                  = pipeline::lower_send_recv(compute);
  return cache_.emplace(key, std::move(c)).first->second;
}

PredictedStep predict_with(const ModelDesc& model, const Layout& l, int64_t global_batch,
                           const HardwareProfile& hw, ScheduleCache& cache, bool record_trace) {
  const std::string problem = layout_problem(model, l, global_batch);
  PX_USER_CHECK(problem.empty(), "layout {}: {}", l.describe(), problem);
  PredictedStep p;
  p.layout       = l;
  p.micro_batch  = global_batch / (static_cast<int64_t>(l.dp) * l.microbatches);
  const double b = static_cast<double>(p.micro_batch), e = hw.bytes_per_element / 4.0;
  const int stages = l.pp * l.virtual_stages;

  // Stage cuts as the engine makes them: balanced flops of the passes each block runs (per sample, + 1 so
  // that blocks without flops still weigh), the first block's skipped input pass not counted.
  std::vector<double> block_flops;
  for (size_t i = 0; i < model.blocks.size(); ++i) {
    Cost c = model.blocks[i].at_batch(1);
    block_flops.push_back(c.fwd_flops +
                          (skips_input_pass(model, static_cast<int>(i)) ? 0.0 : c.bwd_input_flops) +
                          c.bwd_weight_flops + 1.0);
  }
  p.stage_cuts = pipeline::partition_stages(block_flops, stages).cuts;

  const CachedSchedule& sched = cache.get(l.schedule, l.pp, l.microbatches, l.virtual_stages);
  const LinkProfile& pp_link  = hw.link_for(l.tp * l.pp);
  const LinkProfile& dp_link  = hw.link_for(l.devices());
  // Devices of one node computing at the same time share its memory system (CPU cores): the profile's
  // concurrent rates apply to the share of a device's compute during which another one computes. dp × tp
  // replicas of a pipeline rank always compute together; between pipeline ranks the share comes from a
  // first simulation at the rates alone.
  const int node_devices = std::min(l.devices(), hw.devices_per_node);
  const bool contended   = node_devices > 1 && concurrency_matters(hw);
  // A device of a multi-device layout that computes while the others wait (placement's stages, a pipeline's
  // fill and drain) runs at the rate measured with the devices taking turns, where the profile has it.
  const std::optional<HardwareProfile> in_turns =
      node_devices > 1 && hw.has_turn_rates() ? std::optional(hw.turn_rates_as_alone()) : std::nullopt;
  const bool replicas = contended && l.dp * l.tp > 1;

  std::vector<StageCost> alone(stages), together(stages);
  std::vector<double> stage_params(stages, 0.0);
  for (int s = 0; s < stages; ++s) {
    const int first = p.stage_cuts[s], last = p.stage_cuts[s + 1];
    alone[s]    = stage_cost(model, first, last, b, l, in_turns ? *in_turns : hw, false);
    together[s] = contended ? stage_cost(model, first, last, b, l, hw, true) : alone[s];
    for (int i = first; i < last; ++i)
      stage_params[s] += model.blocks[i].tp_split ? static_cast<double>(model.blocks[i].params) / l.tp
                                                  : static_cast<double>(model.blocks[i].params);
  }
  // The loss (softmax cross-entropy over the last stage's logits) is memory-bound work in the last forward.
  {
    const double logits = model.blocks.back().out_bytes_per_sample * b;
    alone.back().F += pass_time(5.0 * logits / 4.0, 3.0 * logits, 0, hw, l.threads_per_device, 1);
    together.back().F += pass_time(5.0 * logits / 4.0, 3.0 * logits, 0, hw, l.threads_per_device,
                                   contended ? node_devices : 1);
  }

  // Data-parallel gradient buckets per stage, as the engine makes them: the stage's parameters in backward
  // order (last block first), a new bucket once the current one holds bucket_bytes; a bucket is launched when
  // the last of its blocks has run its final weight pass. Within a full backward the engine runs every input
  // pass, then every weight pass, each last block first: the buckets complete in layout order, each when its
  // earliest block's weight pass is done.
  struct Bucket {
    double bytes     = 0;
    int last_block   = 1 << 30;  // the block (index within the stage) whose weight pass completes the bucket
    int last_flushed = -1;  // deferred weight gradients: its earliest deferred block (ready at its flush)
  };
  std::vector<std::vector<Bucket>> buckets(stages);
  if (l.dp > 1)
    for (int s = 0; s < stages; ++s) {
      const int first = p.stage_cuts[s], last = p.stage_cuts[s + 1];
      for (int i = last; i-- > first;) {
        const BlockDesc& blk       = model.blocks[i];
        std::vector<int64_t> sizes = blk.param_sizes;
        if (sizes.empty() && blk.params > 0) sizes = {blk.params};
        for (int64_t n : sizes) {
          const double elems = blk.tp_split ? static_cast<double>(n) / l.tp : static_cast<double>(n);
          if (buckets[s].empty() || buckets[s].back().bytes >= l.bucket_bytes) buckets[s].push_back({});
          buckets[s].back().bytes += 4.0 * elems;
          buckets[s].back().last_block = std::min(buckets[s].back().last_block, i - first);
          if (defers_weight_pass(l, blk)) buckets[s].back().last_flushed = i - first;
        }
      }
      std::stable_sort(buckets[s].begin(), buckets[s].end(),
                       [](const Bucket& x, const Bucket& y) { return x.last_block > y.last_block; });
      if (l.zero1) {  // the engine reduce-scatters the whole gradient once, after the last backward
        Bucket all{0, 0, -1};
        for (const Bucket& bk : buckets[s]) all.bytes += bk.bytes;
        for (const Bucket& bk : buckets[s])  // after the whole flush, which ends with the earliest block
          if (bk.last_flushed >= 0 && (all.last_flushed < 0 || bk.last_flushed < all.last_flushed))
            all.last_flushed = bk.last_flushed;
        buckets[s] = {all};
      }
    }

  std::vector<double> device_params(l.pp, 0.0);
  for (int s = 0; s < stages; ++s) device_params[sched.lowered.stage_device[s]] += stage_params[s];
  double dp_bytes_sent = 0;
  for (int r = 0; r < l.pp; ++r)
    dp_bytes_sent =
        std::max(dp_bytes_sent, allreduce_bytes_sent(device_params[r] * hw.bytes_per_element, l.dp));

  // One simulation input; `shared[d]`: the share of device d's compute that runs together with another
  // device of its node.
  auto make_input = [&](const std::vector<double>& shared) {
    SimInput in;
    in.layout             = fmt::format("{} (predicted)", l.describe());
    in.rendezvous         = hw.intra_node.rendezvous && l.devices() <= hw.devices_per_node;
    in.buckets_share_core = dp_link.shares_compute_core && l.devices() <= hw.devices_per_node && l.dp > 1;
    if (l.defer_wgrad) {
      in.flush.resize(stages);
      if (l.dp > 1) in.grad_bucket_ready_flush.resize(stages);
    }
    if (l.dp > 1) {
      in.grad_bucket_time.resize(stages);
      in.grad_bucket_ready.resize(stages);
      in.grad_bucket_ready_w.resize(stages);
      in.grad_bucket_bytes.resize(stages);
    }
    for (int s = 0; s < stages; ++s) {
      const int first = p.stage_cuts[s], last = p.stage_cuts[s + 1];
      const double f = shared[sched.lowered.stage_device[s]];
      auto mix       = [f](double a, double t) { return a + f * (t - a); };
      StageDurations d;
      d.forward         = mix(alone[s].F, together[s].F);
      const double I    = mix(alone[s].I, together[s].I);
      d.backward_weight = mix(alone[s].W, together[s].W);
      d.backward_input  = I + (l.recompute ? d.forward : 0.0);
      d.backward        = d.backward_input + d.backward_weight;
      in.stages.push_back(d);
      if (l.defer_wgrad) in.flush[s] = mix(alone[s].flush, together[s].flush);
      const double fwd_bytes = model.blocks[last - 1].out_bytes_per_sample * b * e;
      const double bwd_bytes =
          (first == 0 ? 0.0 : model.blocks[first - 1].out_bytes_per_sample) * b * e;  // grad of the input
      in.send_forward.push_back(p2p_time(fwd_bytes, pp_link));
      in.send_backward.push_back(first == 0 ? 0.0 : p2p_time(bwd_bytes, pp_link));
      in.forward_bytes.push_back(static_cast<int64_t>(fwd_bytes));
      in.backward_bytes.push_back(static_cast<int64_t>(bwd_bytes));
      if (l.dp > 1) {
        // When each block's weight pass ends (last block first), as a fraction of the full backward and of
        // the W pass alone.
        const size_t nb = alone[s].block_W.size();
        std::vector<double> w_done(nb);
        double w = 0;
        for (size_t j = nb; j-- > 0;) w_done[j] = w += mix(alone[s].block_W[j], together[s].block_W[j]);
        std::vector<double> flush_done(nb);  // the flush runs last block first too
        double fl = 0;
        for (size_t j = nb; j-- > 0;)
          flush_done[j] = fl += mix(alone[s].block_flush[j], together[s].block_flush[j]);
        for (const Bucket& bk : buckets[s]) {
          const double bytes = bk.bytes * e;
          const double done  = w_done[bk.last_block];
          in.grad_bucket_time[s].push_back(l.zero1 ? reduce_scatter_time(bytes, l.dp, dp_link)
                                                   : allreduce_time(bytes, l.dp, dp_link));
          in.grad_bucket_ready[s].push_back(
              d.backward > 0 ? std::min(1.0, (d.backward_input + done) / d.backward) : 1.0);
          in.grad_bucket_ready_w[s].push_back(w > 0 ? std::min(1.0, done / w) : 1.0);
          in.grad_bucket_bytes[s].push_back(static_cast<int64_t>(bytes));
          if (l.defer_wgrad)
            in.grad_bucket_ready_flush[s].push_back(
                bk.last_flushed < 0 ? -1.0
                                    : (fl > 0 ? std::min(1.0, flush_done[bk.last_flushed] / fl) : 1.0));
        }
      }
    }
    // Optimizer step, one fused memory-bound pass over the parameters: SGD with momentum reads p, g, buf and
    // writes p, buf and the zeroed g (6 passes); AdamW reads p, g, m, v and writes p, m, v, g (8); clipping
    // first reads the gradients once for their norm. ZeRO-1 steps 1/dp of the parameters, zeroes the full
    // gradient and all-gathers the parameters.
    const double passes = (l.optimizer == "sgd" ? 6.0 : 8.0) + (l.clip ? 1.0 : 0.0);
    in.opt_step.assign(l.pp, 0.0);
    for (int r = 0; r < l.pp; ++r) {
      const double bw    = hw.bandwidth(false) + shared[r] * (hw.bandwidth(true) - hw.bandwidth(false));
      const double shard = l.zero1 ? device_params[r] / l.dp : device_params[r];
      in.opt_step[r]     = shard * 4.0 * passes / bw + hw.kernel_overhead_s;
      if (l.zero1 && l.dp > 1)
        in.opt_step[r] += device_params[r] * hw.bytes_per_element / bw +
                          all_gather_time(device_params[r] * hw.bytes_per_element, l.dp, dp_link);
    }
    for (int r = 0; r < l.pp; ++r) in.devices.push_back({r, 0, 0, r});
    return in;
  };

  std::vector<double> shared(l.pp, replicas ? 1.0 : 0.0);
  if (contended && !replicas && l.pp > 1) {
    SimInput first        = make_input(shared);
    first.measure_overlap = true;
    shared                = simulate(sched.lowered, first, false).overlap;
  }
  SimInput in      = make_input(shared);
  SimResult sim    = simulate(sched.lowered, in, record_trace);
  p.step_s         = sim.step_time;
  p.bubble         = sim.bubble;
  p.utilization    = sim.utilization;
  int busiest      = static_cast<int>(std::max_element(sim.busy.begin(), sim.busy.end()) - sim.busy.begin());
  p.compute_s      = sim.busy[busiest];
  p.exposed_comm_s = sim.step_time - sim.compute_end - in.opt_step[busiest];
  if (p.exposed_comm_s < 1e-9 * sim.step_time) p.exposed_comm_s = 0;  // rounding, not communication
  p.trace = std::move(sim.trace);

  p.memory = estimate_memory(model, l, p.micro_batch, p.stage_cuts, sched.peak_stash, hw);

  // Communication volume per device and step.
  p.comm.dp       = dp_bytes_sent;
  double tp_bytes = 0;
  if (l.tp > 1)
    for (const BlockDesc& blk : model.blocks)
      if (blk.tp_split)
        tp_bytes += (blk.tp_allreduce_fwd + blk.tp_allreduce_bwd) *
                    allreduce_bytes_sent(blk.tp_allreduce_bytes_per_sample * b * e, l.tp);
  p.comm.tp = tp_bytes * l.microbatches / l.pp;  // a device holds about 1/pp of the layers
  for (int s = 0; s < stages; ++s)
    p.comm.pp = std::max(p.comm.pp, static_cast<double>(in.forward_bytes[s] + in.backward_bytes[s]) *
                                        l.microbatches * (s + 1 < stages ? 1 : 0));
  p.note = fmt::format(
      "predicted: one pipeline group of {} device(s) simulated; its {} data- and "
      "tensor-parallel replica(s) run the same timeline",
      l.pp, l.dp * l.tp);
  return p;
}

LinearCalls linear_calls(const ModelDesc& model, const Layout& l, int64_t global_batch) {
  const std::string problem = layout_problem(model, l, global_batch);
  PX_USER_CHECK(problem.empty(), "layout {}: {}", l.describe(), problem);
  const double b = static_cast<double>(global_batch / (static_cast<int64_t>(l.dp) * l.microbatches));
  LinearCalls calls;
  for (const BlockDesc& blk : model.blocks) {
    if (blk.kind != "linear" || blk.gemm_in <= 0) continue;  // the lookups stage_cost makes
    const auto [in, out] = device_gemm(blk, l.tp);
    const auto rows      = static_cast<int64_t>(blk.rows_per_sample * b);
    LinearCalls block{{{static_cast<int64_t>(in), static_cast<int64_t>(out)}}, {rows}};
    if (defers_weight_pass(l, blk) && l.microbatches > 1) block.rows.push_back(rows * l.microbatches);
    calls.merge(block);
  }
  if (l.pp > 1) calls.turn_shapes = calls.shapes, calls.turn_rows = calls.rows;
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

}  // namespace paraxis::model
