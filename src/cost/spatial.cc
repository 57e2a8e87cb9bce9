// Domain parallelism's costs (cost/spatial.h): Gholami et al.'s formulas, and the exchanges of the runtime's
// spatial layers priced by α–β on the busiest member. docs/cost-model.md, "Domain parallelism".
#include "paraxis/cost/spatial.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "cost/log2.h"
#include "cost/schedule_cache.h"
#include "paraxis/core/error.h"

namespace paraxis::cost {

namespace {
double beta(const LinkProfile& link) {
  return 1.0 / link.achieved_bandwidth();
}
}  // namespace

double gholami_allreduce(double weight_bytes, int p, const LinkProfile& link) {
  if (p <= 1) return 0;
  return 2.0 * (link.latency_s * ceil_log2(p) + beta(link) * (p - 1.0) / p * weight_bytes);
}

double gholami_halo_bytes(int64_t k, int64_t batch, int64_t width, int64_t channels, int e) {
  return static_cast<double>(batch) * static_cast<double>(width) * static_cast<double>(channels) *
         static_cast<double>(k / 2) * e;
}

GholamiDomain gholami_domain(const std::vector<GholamiConv>& convs, int64_t batch, int pd, int pb,
                             double transition_bytes_per_sample, const LinkProfile& link, int e) {
  PX_USER_CHECK(pd >= 1 && pb >= 1 && batch >= pb, "gholami domain: pd {} pb {} batch {}", pd, pb, batch);
  GholamiDomain g;
  const int64_t b = batch / pb;  // each batch group's samples
  const double a = link.latency_s, be = beta(link);
  for (const GholamiConv& c : convs) {
    if (pd > 1) {
      g.halo_forward += a + be * gholami_halo_bytes(c.k, b, c.x_width, c.x_channels, e);
      g.halo_backward += a + be * gholami_halo_bytes(c.k, b, c.y_width, c.y_channels, e);
    }
    g.allreduce += gholami_allreduce(c.weight_bytes, pd * pb, link);
  }
  if (pd > 1)
    g.redistribution = a * ceil_log2(pd) +
                       be * (pd - 1.0) / pd * static_cast<double>(b) * transition_bytes_per_sample * e / 4.0;
  return g;
}

double exchange_time(int64_t bytes_sent, int64_t bytes_received, int sends, int receives,
                     const LinkProfile& link, int bytes_per_element) {
  const double scale = bytes_per_element / 4.0, be = beta(link);
  const double out = sends * link.latency_s + static_cast<double>(bytes_sent) * scale * be;
  const double in  = receives * link.latency_s + static_cast<double>(bytes_received) * scale * be;
  return std::max(out, in);
}

std::string spatial_layout_problem(const ModelDesc& model, int sp, int tp, int /*pp*/, int64_t micro_batch,
                                   SpFc fc) {
  if (sp <= 1 && fc == SpFc::kModel) return "sp-fc model splits the FC weights over sp, but sp is 1";
  if (sp <= 1) return "";
  if (!model.spec || (model.spec->kind != "cnn" && model.spec->kind != "alexnet"))
    return fmt::format(
        "sp {} splits a CNN's images along their height; {} has no convolutional side (use sp 1)", sp,
        model.name);
  if (tp > 1)
    return fmt::format(
        "sp {} with tp {} is not supported (the runtime runs sp with dp and pp); use tp 1 with sp {} (with "
        "sp-fc model the sp group splits the FC weights), or sp 1",
        sp, tp, sp);
  if (fc == SpFc::kBatch && micro_batch % sp != 0)
    return fmt::format(
        "sp {} does not divide the micro-batch of {} samples (after flatten each device takes an equal "
        "share); "
        "use a micro-batch of {} (global batch = micro-batch x dp x m)",
        sp, micro_batch, (micro_batch + sp - 1) / sp * sp);
  try {
    validate_spatial(*model.spec, sp, micro_batch, 1, fc);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

ModelDesc describe_spatial_member(const ModelDesc& base, const ModelSpec& spec, int sp, int rank, SpFc fc) {
  auto model  = build_spatial_model(spec, SpInfo{nullptr, rank, sp, {}, fc});
  ModelDesc d = describe_built(*model, spec, sp);
  for (size_t b = 0; b < d.blocks.size(); ++b) {  // a shard holds its slice of the parameters
    const std::string kind = d.blocks[b].kind;
    if (kind != "column_parallel" && kind != "row_parallel") continue;
    d.blocks[b].params = 0;
    d.blocks[b].param_sizes.clear();
    for (Param* p : model->blocks[b]->params()) {
      d.blocks[b].params += p->value.numel();
      d.blocks[b].param_sizes.push_back(p->value.numel());
    }
  }
  d.name            = base.name;
  d.partition_costs = base.partition_costs;  // the stage cuts: the single-device model's, as the runtime cuts
  d.fc_widths       = base.fc_widths;
  return d;
}

namespace {

double member_flops(const ModelDesc& d) {
  double f = 0;
  for (const BlockDesc& b : d.blocks) {
    const Cost c = b.at_batch(1);
    f += c.fwd_flops + c.bwd_input_flops + c.bwd_weight_flops;
  }
  return f;
}

// Every member's view of block exchange i, the slowest member's time and the busiest one's bytes.
void merge_exchange(BlockExchange& into, const SpatialExchange& x, const LinkProfile& link, int e) {
  const bool first      = into.name.empty();
  into.forward_overlap  = first ? x.forward_overlap : std::min(into.forward_overlap, x.forward_overlap);
  into.backward_overlap = first ? x.backward_overlap : std::min(into.backward_overlap, x.backward_overlap);
  const double fwd      = exchange_time(x.forward_bytes_sent, x.forward_bytes_received, x.forward_sends,
                                        x.forward_receives, link, e);
  const double bwd      = exchange_time(x.forward_bytes_received, x.forward_bytes_sent, x.forward_receives,
                                        x.forward_sends, link, e);
  const int64_t moved   = x.forward_bytes_sent + x.forward_bytes_received;
  into.block            = x.block;
  into.name             = x.name;
  into.layout_change    = x.layout_change;
  into.backward         = x.backward;
  into.forward_s        = std::max(into.forward_s, fwd);
  into.backward_s       = x.backward ? std::max(into.backward_s, bwd) : 0.0;
  into.forward_bytes    = std::max(into.forward_bytes, moved);
  into.backward_bytes   = x.backward ? into.forward_bytes : 0;
  into.sent_bytes       = std::max({into.sent_bytes, x.forward_bytes_sent, x.forward_bytes_received});
}

// --sp-fc model: the FC shards' all-reduces over sp, as in-pass exchanges of the member model's blocks (every
// member the same bytes): column-parallel, its input gradient in the backward; row-parallel, its output in
// the forward. b samples (the whole micro-batch on every member).
void add_fc_collectives(SpatialPricing& p, int64_t b, int sp, const LinkProfile& link, int e) {
  for (size_t i = 0; i < p.model.blocks.size(); ++i) {
    const BlockDesc& blk = p.model.blocks[i];
    const bool column = blk.kind == "column_parallel", row = blk.kind == "row_parallel";
    if (!column && !row) continue;
    BlockExchange x;
    x.block = static_cast<int>(i), x.name = blk.name, x.fc_collective = true, x.backward = column;
    // The column layer's input (its dx) is the previous block's output; the row layer's output is its own.
    const double per_sample = column ? p.model.blocks[i - 1].out_bytes_per_sample : blk.out_bytes_per_sample;
    const double bytes      = per_sample * static_cast<double>(b) * e / 4.0;
    const double t          = allreduce_time(bytes, sp, link);
    const auto sent         = static_cast<int64_t>(allreduce_bytes_sent(bytes, sp));
    (column ? x.backward_s : x.forward_s)         = t;
    (column ? x.backward_bytes : x.forward_bytes) = 2 * sent;
    x.sent_bytes                                  = sent;
    p.exchanges.push_back(x);
  }
  std::sort(p.exchanges.begin(), p.exchanges.end(),
            [](const BlockExchange& a, const BlockExchange& c) { return a.block < c.block; });
}

}  // namespace

SpatialPricing spatial_pricing(const ModelDesc& base, const ModelSpec& spec, int sp, int64_t micro_batch,
                               const LinkProfile& link, int bytes_per_element, SpFc fc) {
  validate_spatial(spec, sp, micro_batch, 1, fc);
  SpatialPricing p;
  p.fc        = fc;
  double most = -1;
  for (int r = 0; r < sp; ++r) {
    ModelDesc d     = describe_spatial_member(base, spec, sp, r, fc);
    const double fl = member_flops(d);
    if (fl > most) most = fl, p.model = std::move(d), p.member = r;
    const std::vector<SpatialExchange> xs = spatial_exchanges(spec, sp, r, micro_batch, fc);
    for (const SpatialExchange& x : xs) {
      auto it = std::find_if(p.exchanges.begin(), p.exchanges.end(),
                             [&](const BlockExchange& b) { return b.block == x.block; });
      if (it == p.exchanges.end()) it = p.exchanges.insert(p.exchanges.end(), BlockExchange{});
      merge_exchange(*it, x, link, bytes_per_element);
    }
  }
  std::sort(p.exchanges.begin(), p.exchanges.end(),
            [](const BlockExchange& a, const BlockExchange& b) { return a.block < b.block; });
  for (const BlockExchange& x : p.exchanges)
    if (x.layout_change) {
      for (int i = 0; i < x.block; ++i) p.conv_params += base.blocks[i].params;
      for (size_t i = x.block; i < p.model.blocks.size(); ++i) p.fc_local_params += p.model.blocks[i].params;
    }
  if (fc == SpFc::kModel) add_fc_collectives(p, micro_batch, sp, link, bytes_per_element);
  return p;
}

const SpatialPricing& ScheduleCache::spatial(const ModelDesc& model, int sp, int64_t micro_batch,
                                             const HardwareProfile& hw, SpFc fc) {
  const std::tuple<int, int64_t, int> key{sp, micro_batch, static_cast<int>(fc)};
  auto it = spatial_.find(key);
  if (it != spatial_.end()) return it->second;
  SpatialPricing p = spatial_pricing(model, *model.spec, sp, micro_batch, hw.collective_link(sp, 1),
                                     hw.bytes_per_element, fc);
  return spatial_.emplace(key, std::move(p)).first->second;
}

namespace {

// Tensor parallelism's collectives per micro-batch (Megatron's all-reduces inside the split blocks).
void model_part(const ModelDesc& model, const Layout& l, double b, const HardwareProfile& hw, CommSplit& c) {
  if (l.tp <= 1) return;
  const LinkProfile link = hw.collective_link(l.tp, 1);
  const double e         = hw.bytes_per_element / 4.0;
  for (const BlockDesc& blk : model.blocks) {
    if (!blk.tp_split) continue;
    const double bytes = blk.tp_allreduce_bytes_per_sample * b * e,
                 n     = blk.tp_allreduce_fwd + blk.tp_allreduce_bwd;
    c.model_s += n * allreduce_time(bytes, l.tp, link) * l.microbatches / l.pp;
    c.model_bytes += n * allreduce_bytes_sent(bytes, l.tp) * l.microbatches / l.pp;
  }
}

// Halos and layout changes, forward and backward, every micro-batch.
void exchange_part(const SpatialPricing& s, int m, CommSplit& c) {
  for (const BlockExchange& x : s.exchanges) {
    if (x.fc_collective) {  // one all-reduce per micro-batch, in one of the two passes
      c.model_s += (x.forward_s + x.backward_s) * m;
      c.model_bytes += static_cast<double>(x.sent_bytes) * m;
      continue;
    }
    const double t = (x.forward_s + x.backward_s) * m, bytes = x.sent_bytes * (x.backward ? 2.0 : 1.0) * m;
    const int n = (1 + x.backward) * m;
    (x.layout_change ? c.layout_s : c.halo_s) += t;
    (x.layout_change ? c.layout_bytes : c.halo_bytes) += bytes;
    (x.layout_change ? c.layout_changes : c.halo_exchanges) += n;
  }
}

}  // namespace

double BlockExchange::forward_exposed(double block_forward_s) const {
  return std::max(0.0, forward_s - forward_overlap * block_forward_s);
}

double BlockExchange::backward_exposed(double block_input_s) const {
  return std::max(0.0, backward_s - backward_overlap * block_input_s);
}

CommSplit split_comm(const ModelDesc& model, const Layout& l, double micro_batch,
                     const SpatialPricing* spatial, const HardwareProfile& hw) {
  CommSplit c;
  model_part(model, l, micro_batch, hw, c);
  const int group        = l.grad_group();
  const LinkProfile link = hw.collective_link(group, l.tp);
  const double e         = hw.bytes_per_element;
  const double conv      = spatial ? static_cast<double>(spatial->conv_params) * e : 0.0;
  const double all       = static_cast<double>(model.num_params()) * e / (l.tp * l.pp);  // about
  if (spatial) exchange_part(*spatial, l.microbatches, c);
  if (spatial && spatial->fc == SpFc::kModel) {
    // The conv gradients summed over sp, then every gradient (conv, and this member's FC shards) over dp.
    const double fc           = static_cast<double>(spatial->fc_local_params) * e;
    const LinkProfile spl     = hw.collective_link(l.sp, 1);
    c.spatial_allreduce_s     = allreduce_time(conv, l.sp, spl) + allreduce_time(conv, l.dp, link);
    c.spatial_allreduce_bytes = allreduce_bytes_sent(conv, l.sp) + allreduce_bytes_sent(conv, l.dp);
    c.batch_s                 = allreduce_time(fc, l.dp, link);
    c.batch_bytes             = allreduce_bytes_sent(fc, l.dp);
    return c;
  }
  if (spatial) {
    c.spatial_allreduce_s     = allreduce_time(conv, group, link);
    c.spatial_allreduce_bytes = allreduce_bytes_sent(conv, group);
  }
  c.batch_s     = allreduce_time(all - conv, group, link);
  c.batch_bytes = allreduce_bytes_sent(all - conv, group);
  return c;
}

}  // namespace paraxis::cost
