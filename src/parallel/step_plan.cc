#include "paraxis/parallel/step_plan.h"

#include "paraxis/core/error.h"
#include "paraxis/parallel/spatial.h"
#include "paraxis/parallel/tensor_parallel.h"
#include "paraxis/pipeline/partition.h"

namespace paraxis {

namespace {

// Stage costs for the partitioner: the full model's (Model::partition_costs, the function the cost model's
// describe_model reads too), or the caller's measured ones.
// (One stage needs no costs; without tp and sp the shard is the full model; with tp, or sp, whose members'
// slabs differ by a row and would cut differently, a full model is built for them: every member, and the
// cost model, cut where the single-device model does.)
std::vector<int> stage_cuts_of(const ModelSpec& spec, const EngineConfig& cfg, Model& model) {
  const size_t nblocks = model.blocks.size();
  const int stages     = cfg.schedule.pp * cfg.schedule.virtual_stages;
  if (stages == 1) return {0, static_cast<int>(nblocks)};
  std::vector<double> costs = cfg.block_costs;
  if (costs.empty())
    costs = cfg.grid.tp == 1 && cfg.grid.sp == 1 ? model.partition_costs(1)
                                                 : build_model(spec)->partition_costs(1);
  PX_CHECK(costs.size() == nblocks, "{} block costs for {} blocks", costs.size(), nblocks);
  return pipeline::partition_stages(costs, stages).cuts;
}

// Each block's parameter sizes as this shard holds them (every device's layout is the same function of the
// model, so each can compute the buckets of the others, which the step's schedule lists).
std::vector<std::vector<int64_t>> block_numels(Model& model) {
  std::vector<std::vector<int64_t>> out;
  for (auto& blk : model.blocks) {
    std::vector<Param*> ps;
    blk->collect_params(ps);
    out.emplace_back();
    for (Param* p : ps) out.back().push_back(p->value.numel());
  }
  return out;
}

// Per block: the layers that defer their weight gradient to the stage's FLUSH_W (--defer-wgrad: Linears).
std::vector<std::vector<Layer*>> deferring_layers(Model& model, bool defer) {
  std::vector<std::vector<Layer*>> out(model.blocks.size());
  if (!defer) return out;
  for (size_t b = 0; b < model.blocks.size(); ++b) {
    std::vector<Layer*> leaves;
    model.blocks[b]->collect_layers(leaves);
    for (Layer* l : leaves)
      if (l->defer_weight_grads(true)) out[b].push_back(l);
  }
  return out;
}

}  // namespace

StepPlan plan_step(const ModelSpec& spec, const EngineConfig& cfg, Model& model) {
  const Grid& g = cfg.grid;
  StepPlan plan;
  plan.cuts      = stage_cuts_of(spec, cfg, model);
  plan.deferring = deferring_layers(model, cfg.defer_wgrad);
  auto& s        = plan.spec;
  s.schedule     = cfg.schedule;
  // The gradients are averaged over dp x sp (parallel/spatial.h); with --sp-fc model over dp only.
  s.dp        = cfg.sp_fc_model() ? g.dp : g.dp * g.sp;
  s.zero1     = cfg.zero == 1;
  s.clip      = cfg.optim.clip_norm > 0;
  s.recompute = cfg.recompute;
  s.cuts      = plan.cuts;
  for (const auto& layers : plan.deferring) s.deferred.push_back(layers.empty() ? 0 : 1);
  const std::vector<int> owner = pipeline::generate_schedule(cfg.schedule).stage_device;
  const auto numels            = block_numels(model);
  const int64_t bucket_elems   = pipeline::grad_bucket_elems(cfg.bucket_mb * 1024 * 1024);
  for (int r = 0; r < g.pp; ++r)
    s.buckets.push_back(pipeline::layout_grad_buckets(
        pipeline::device_param_slots(numels, plan.cuts, owner, r), bucket_elems));
  plan.schedule = pipeline::generate_step(s);
  return plan;
}

StepPlan plan_step(const ModelSpec& spec, const EngineConfig& cfg) {
  // Shapes only: no tp call runs. --sp-fc model's FC shards are every spatial member's size (sp divides them).
  auto model = cfg.sp_fc_model() ? build_spatial_model(spec, SpInfo{nullptr, 0, cfg.grid.sp, {}, cfg.sp_fc})
                                 : build_model(spec, TpInfo{nullptr, 0, cfg.grid.tp});
  StepPlan plan = plan_step(spec, cfg, *model);
  plan.deferring.clear();  // the layers die with this model
  return plan;
}

}  // namespace paraxis
