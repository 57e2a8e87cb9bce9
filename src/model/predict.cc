// predict_step: a layout's stage durations from the cost model, then one simulated step.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>

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

struct StageCost {
  double F = 0, I = 0, W = 0;
};

// Compute time of every block pass of one stage at micro-batch b.
StageCost stage_cost(const ModelDesc& model, int first, int last, double b, const Layout& l,
                     const HardwareProfile& hw) {
  StageCost c;
  const int concurrent       = std::min(l.devices(), hw.devices_per_node);
  const LinkProfile& tp_link = hw.link_for(l.tp);
  for (int i = first; i < last; ++i) {
    const BlockDesc& blk = model.blocks[i];
    Cost x               = blk.at_batch(b);
    const double split   = blk.tp_split ? static_cast<double>(l.tp) : 1.0;
    auto t               = [&](double flops, double bytes) {
      return pass_time(flops / split, bytes / split, blk.matmuls, hw, l.threads_per_device, concurrent);
    };
    c.F += t(x.fwd_flops, x.fwd_bytes);
    c.I += t(x.bwd_input_flops, x.bwd_input_bytes);
    c.W += t(x.bwd_weight_flops, x.bwd_weight_bytes);
    if (l.tp > 1 && blk.tp_split) {  // Megatron's blocking all-reduces inside the layer
      const double bytes = blk.tp_allreduce_bytes_per_sample * b * hw.bytes_per_element / 4.0;
      c.F += blk.tp_allreduce_fwd * allreduce_time(bytes, l.tp, tp_link);
      c.I += blk.tp_allreduce_bwd * allreduce_time(bytes, l.tp, tp_link);
    }
  }
  return c;
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

  // Stage cuts as the runtime makes them: balanced fwd+bwd flops.
  std::vector<double> block_flops;
  for (const BlockDesc& blk : model.blocks) {
    Cost c = blk.at_batch(b);
    block_flops.push_back(c.fwd_flops + c.bwd_input_flops + c.bwd_weight_flops);
  }
  p.stage_cuts = pipeline::partition_stages(block_flops, stages).cuts;

  const CachedSchedule& sched = cache.get(l.schedule, l.pp, l.microbatches, l.virtual_stages);
  SimInput in;
  in.layout                  = fmt::format("{} (predicted)", l.describe());
  in.rendezvous              = hw.intra_node.rendezvous && l.devices() <= hw.devices_per_node;
  const LinkProfile& pp_link = hw.link_for(l.tp * l.pp);
  const LinkProfile& dp_link = hw.link_for(l.devices());
  const int concurrent       = std::min(l.devices(), hw.devices_per_node);
  std::vector<double> stage_params(stages, 0.0);
  for (int s = 0; s < stages; ++s) {
    const int first = p.stage_cuts[s], last = p.stage_cuts[s + 1];
    StageCost c = stage_cost(model, first, last, b, l, hw);
    StageDurations d;
    d.forward         = c.F;
    d.backward_input  = c.I + (l.recompute ? c.F : 0.0);
    d.backward_weight = c.W;
    d.backward        = d.backward_input + d.backward_weight;
    in.stages.push_back(d);
    const double fwd_bytes = model.blocks[last - 1].out_bytes_per_sample * b * e;
    const double bwd_bytes =
        (first == 0 ? 0.0 : model.blocks[first - 1].out_bytes_per_sample) * b * e;  // grad of the stage input
    in.send_forward.push_back(p2p_time(fwd_bytes, pp_link));
    in.send_backward.push_back(first == 0 ? 0.0 : p2p_time(bwd_bytes, pp_link));
    in.forward_bytes.push_back(static_cast<int64_t>(fwd_bytes));
    in.backward_bytes.push_back(static_cast<int64_t>(bwd_bytes));
    for (int i = first; i < last; ++i)
      stage_params[s] += model.blocks[i].tp_split ? static_cast<double>(model.blocks[i].params) / l.tp
                                                  : static_cast<double>(model.blocks[i].params);
  }
  // The loss (softmax cross-entropy over the last stage's logits) is memory-bound work in the last forward.
  {
    const double logits = model.blocks.back().out_bytes_per_sample * b;
    in.stages.back().forward +=
        pass_time(5.0 * logits / 4.0, 3.0 * logits, 0, hw, l.threads_per_device, concurrent);
  }

  // Data-parallel gradient buckets per stage: the last layers' gradients are final first.
  double dp_bytes_sent = 0;
  if (l.dp > 1) {
    in.grad_bucket_time.resize(stages);
    in.grad_bucket_ready.resize(stages);
    in.grad_bucket_bytes.resize(stages);
    for (int s = 0; s < stages; ++s) {
      const double total = stage_params[s] * hw.bytes_per_element;
      const int buckets  = std::max(1, static_cast<int>(std::ceil(total / l.bucket_bytes)));
      for (int k = 0; k < buckets; ++k) {
        const double bytes = total / buckets;
        const double t =
            l.zero1 ? reduce_scatter_time(bytes, l.dp, dp_link) : allreduce_time(bytes, l.dp, dp_link);
        in.grad_bucket_time[s].push_back(t);
        in.grad_bucket_ready[s].push_back(static_cast<double>(k + 1) / buckets);
        in.grad_bucket_bytes[s].push_back(static_cast<int64_t>(bytes));
      }
    }
  }
  // Optimizer step (memory-bound): AdamW reads p, g, m, v and writes p, m, v; SGD with momentum reads p, g,
  // buf and writes p, buf. Plus zeroing the gradients for the next step. ZeRO-1 updates 1/dp of the
  // parameters, then all-gathers them.
  in.opt_step.assign(l.pp, 0.0);
  std::vector<double> device_params(l.pp, 0.0);
  for (int s = 0; s < stages; ++s) device_params[s % l.pp] += stage_params[s];
  const double passes = l.optimizer == "sgd" ? 5.0 : 7.0;
  for (int r = 0; r < l.pp; ++r) {
    const double shard = l.zero1 ? device_params[r] / l.dp : device_params[r];
    in.opt_step[r]     = shard * 4.0 * passes / hw.memory_bandwidth +
                     device_params[r] * hw.bytes_per_element / hw.memory_bandwidth + hw.kernel_overhead_s;
    if (l.zero1 && l.dp > 1)
      in.opt_step[r] += all_gather_time(device_params[r] * hw.bytes_per_element, l.dp, dp_link);
    dp_bytes_sent =
        std::max(dp_bytes_sent, allreduce_bytes_sent(device_params[r] * hw.bytes_per_element, l.dp));
  }
  for (int r = 0; r < l.pp; ++r) in.devices.push_back({r, 0, 0, r});

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
