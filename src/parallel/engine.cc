#include "paraxis/parallel/engine.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>

#include "parallel/engine_impl.h"
#include "paraxis/core/error.h"
#include "paraxis/parallel/spatial.h"
#include "paraxis/parallel/step_plan.h"
#include "paraxis/parallel/tensor_parallel.h"
#include "paraxis/pipeline/partition.h"

namespace paraxis {

using pipeline::Action;
using pipeline::ActionKind;

void validate_layout(const ModelSpec& spec, const EngineConfig& cfg, int64_t global_batch) {
  const Grid& g = cfg.grid;
  PX_USER_CHECK(cfg.schedule.pp == g.pp, "the schedule has --pp {} but the grid has pp {}", cfg.schedule.pp,
                g.pp);
  pipeline::check_schedule_spec(cfg.schedule);
  int m = cfg.schedule.microbatches;
  PX_USER_CHECK(global_batch >= 1, "--batch {} must be at least 1", global_batch);
  PX_USER_CHECK(global_batch % (int64_t{g.dp} * m) == 0,
                "--batch {} is not divisible by dp {} x micro-batches {} = {}; use --batch {} or {}",
                global_batch, g.dp, m, int64_t{g.dp} * m,
                (global_batch / (int64_t{g.dp} * m)) * g.dp * m == 0
                    ? g.dp * m
                    : (global_batch / (int64_t{g.dp} * m)) * g.dp * m,
                (global_batch / (int64_t{g.dp} * m) + 1) * g.dp * m);
  PX_USER_CHECK(cfg.bucket_mb > 0, "--bucket-mb {} must be positive (default 25)", cfg.bucket_mb);
  PX_USER_CHECK(cfg.zero == 0 || cfg.zero == 1, "--zero {} is not supported; use --zero 0 or --zero 1",
                cfg.zero);
  validate_tensor_parallel(spec, g.tp);  // heads, hidden, ffn, vocabulary, channels divisible by tp
  validate_spatial_layout(spec, g, global_batch / (int64_t{g.dp} * m), int64_t{g.dp} * m, cfg.sp_fc);
  auto model = build_model(spec);
  int stages = cfg.schedule.pp * cfg.schedule.virtual_stages;
  int blocks = static_cast<int>(model->blocks.size());
  PX_USER_CHECK(
      stages <= blocks,
      "{} pipeline stages (pp {} x virtual {}) but the model {} has only {} blocks; use --pp {} or fewer",
      stages, cfg.schedule.pp, cfg.schedule.virtual_stages, spec.describe(), blocks,
      blocks / cfg.schedule.virtual_stages);
}

// sp with dp and pp (each pipeline stage split over the same sp devices); not with tp: the spatial layers hold
// whole weights. Gholami's integrated grid splits the FC weights over the sp group instead (--sp-fc model).
void validate_spatial_layout(const ModelSpec& spec, const Grid& g, int64_t microbatch_rows,
                             int64_t microbatches, SpFc fc) {
  if (g.sp == 1) return validate_spatial(spec, 1, microbatch_rows, microbatches, fc);  // --sp-fc needs sp
  PX_USER_CHECK(
      g.tp == 1,
      "--sp {} with --tp {} is not supported: the conv and pool blocks on row slabs hold whole "
      "weights; to split the fully connected weights (Gholami's model-parallel FC side) use --sp {} "
      "--sp-fc model with --tp 1 (the sp group splits them), or --dp {} --sp {}",
      g.sp, g.tp, g.sp, g.dp * g.tp, g.sp);
  validate_spatial(spec, g.sp, microbatch_rows, microbatches, fc);
}

void Engine::Impl::record_collective(const Grid& g, trace::Kind kind, GroupAxis axis, int64_t t_begin,
                                     int64_t bytes, int action) {
  // A collective on the comm track, from its launch (for the dp buckets: during the backward they overlap) to
  // its completion.
  trace::Event e;
  e.kind = kind, e.track = trace::default_track(kind);
  e.t_begin_ns = t_begin, e.t_end_ns = trace::now_ns();
  e.bytes  = bytes;
  e.action = action;
  record_group_event(g, e, axis);
}

void Engine::Impl::record_group_event(const Grid& g, trace::Event e, GroupAxis axis) {
  // The members of one call share flow_id: the group (its axis and its first member's world rank) and the
  // call number, which every member counts alike (collectives run in the same order).
  const Coord c    = coord;
  const int leader = axis == GroupAxis::kDp   ? g.rank({0, c.tp, c.pp, 0})
                     : axis == GroupAxis::kTp ? g.rank({c.dp, 0, c.pp, c.sp})
                     : axis == GroupAxis::kPp ? g.rank({c.dp, c.tp, 0, c.sp})
                     : axis == GroupAxis::kSp ? g.rank({c.dp, c.tp, c.pp, 0})
                                              : 0;
  const int a      = static_cast<int>(axis);
  e.seq            = trace_calls[{a, leader}]++;
  e.flow_id        = (int64_t{a} << 56) | (int64_t{leader} << 32) | e.seq;
  rec->record(e);
}

void Engine::Impl::record_layer_call(const Grid& g, const CommCall& c, int64_t t_begin, int64_t t_end,
                                     GroupAxis axis) {
  if (running_action < 0) return;
  trace::Event e;
  e.kind = c.op == CommOp::kAllReduce   ? trace::Kind::kAllReduce
           : c.op == CommOp::kAllGather ? trace::Kind::kAllGather
                                        : trace::Kind::kOther;
  if (e.kind == trace::Kind::kOther) return;
  // Inside a pass (F B I W R, FLUSH_W) it blocked that pass's compute; elsewhere (GRAD_NORM) it is the
  // action's own synchronisation.
  const pipeline::ActionKind k = actions[running_action].kind;
  e.track      = pipeline::is_compute(k) || k == pipeline::ActionKind::kFlushWeight ? trace::Track::kCompute
                                                                                    : trace::Track::kComm;
  e.t_begin_ns = t_begin, e.t_end_ns = t_end;
  e.bytes  = c.count * static_cast<int64_t>(sizeof(float));
  e.action = running_action;
  record_group_event(g, e, axis);
}

Engine::Engine(const ModelSpec& spec, const EngineConfig& cfg, Communicator& world, trace::Recorder* recorder)
    : impl_(std::make_unique<Impl>(world)), cfg_(cfg), rank_(world.rank()) {
  Impl& I       = *impl_;
  const Grid& g = cfg_.grid;
  PX_CHECK(g.size() == world.size(), "grid {} has {} devices but the communicator has {}", g.describe(),
           g.size(), world.size());
  I.rec         = recorder;
  I.coord       = g.coord(rank_);
  const Coord c = I.coord;
  // Sub-communicators, split in the same order on every device (collectives over world). The gradients are
  // averaged over dp x sp: under domain parallelism every member of a spatial group holds the whole model.
  // With --sp-fc model the FC weights are split over sp: all gradients are averaged over dp only, the conv
  // side's first summed over sp (its members hold partial sums of one micro-batch's gradient).
  I.dp_comm = cfg_.sp_fc_model() ? world.split(g.rank({0, c.tp, c.pp, c.sp}), c.dp)
                                 : world.split(g.rank({0, c.tp, c.pp, 0}), c.dp * g.sp + c.sp);
  I.tp_comm = world.split(g.rank({c.dp, 0, c.pp, c.sp}), c.tp);
  I.pp_comm = world.split(g.rank({c.dp, c.tp, 0, c.sp}), c.pp);
  I.sp_comm = world.split(g.rank({c.dp, c.tp, c.pp, 0}), c.sp);
  if (cfg_.sp_fc_model()) I.sp_fc_comm = world.split(g.rank({c.dp, c.tp, c.pp, 0}), c.sp);
  if (I.rec && g.tp > 1)
    I.tp_comm->set_blocking_observer([this](const CommCall& call, int64_t b, int64_t e) {
      impl_->record_layer_call(cfg_.grid, call, b, e, GroupAxis::kTp);
    });
  if (I.rec && I.sp_fc_comm)
    I.sp_fc_comm->set_blocking_observer([this](const CommCall& call, int64_t b, int64_t e) {
      impl_->record_layer_call(cfg_.grid, call, b, e, GroupAxis::kSp);
    });

  // This device's tensor-parallel shard: the same blocks, split layers holding their slices. Block outputs
  // may be split (the Engine chains the local blocks' output shapes, so transfers use the local shapes).
  // Under sp, the spatial layout: conv side on row slabs, FC side on a batch share (or split over sp).
  model_               = g.sp > 1 ? build_spatial_model(spec, spatial_info())
                                  : build_model(spec, TpInfo{I.tp_comm.get(), c.tp, g.tp});
  const size_t nblocks = model_->blocks.size();
  I.model_in           = model_->input_shape(1);
  I.first_backward_only.assign(nblocks, 0);
  // The data needs no gradient (nor, under tp, its all-reduce).
  I.first_backward_only[0] = model_->first_block_skips_input_pass();
  Shape s                  = I.model_in;
  for (size_t b = 0; b < nblocks; ++b) {
    s = model_->blocks[b]->output_shape(s);
    I.block_out.push_back(s);
    if (std::string(model_->blocks[b]->kind()) == "spatial_to_batch")
      I.share_from = std::min(I.share_from, b);
  }
  build_step(spec, *model_);
}

// The step's schedule (plan_step: what every pipeline device runs, its buckets computed alike), then this
// device's blocks initialised, its flat parameters and buckets (DataParallel) and its optimizer (OptimStep).
void Engine::build_step(const ModelSpec& spec, Model& model) {
  Impl& I       = *impl_;
  StepPlan plan = plan_step(spec, cfg_, model);
  cuts_         = plan.cuts;
  I.deferring   = std::move(plan.deferring);
  for (const auto& layers : I.deferring) I.any_deferring = I.any_deferring || !layers.empty();
  schedule_ = std::move(plan.schedule);
  I.actions = schedule_.actions[I.coord.pp];
  for (int st = 0; st < schedule_.num_stages; ++st)
    if (schedule_.stage_device[st] == I.coord.pp) I.my_stages.push_back(st);
  init_local_blocks(model);
  PX_CHECK(I.dp->buckets().size() == plan.spec.buckets[I.coord.pp].size(),
           "the device's {} gradient buckets differ from the schedule's {}", I.dp->buckets().size(),
           plan.spec.buckets[I.coord.pp].size());
}

// Keeps only this device's blocks, initialises them (each parameter from its own named stream, so the values
// equal the single-device model's whatever the layout), and sets up their gradients' reduction and update.
void Engine::init_local_blocks(Model& model) {
  Impl& I              = *impl_;
  const Grid& g        = cfg_.grid;
  const size_t nblocks = model.blocks.size();
  std::vector<char> mine(nblocks, 0);
  for (int st : I.my_stages)
    for (int b = cuts_[st]; b < cuts_[st + 1]; ++b) mine[b] = 1;
  for (size_t b = 0; b < nblocks; ++b) {
    if (!mine[b]) model.blocks[b].reset(), I.deferring[b].clear();
    if (mine[b]) model.blocks[b]->init(cfg_.seed);
  }
  std::vector<int> blocks;  // flat order: last block first, so buckets fill from the front during backward
  for (size_t bi = nblocks; bi-- > 0;) {
    if (!mine[bi]) continue;
    std::vector<Param*> ps;
    model.blocks[bi]->collect_params(ps);
    for (Param* p : ps) I.params.push_back(p), blocks.push_back(static_cast<int>(bi));
  }
  I.sp_summed.assign(nblocks, 0);
  for (size_t b = 0; b < nblocks; ++b)
    I.sp_summed[b] =
        cfg_.sp_fc_model() && mine[b] && std::string(model.blocks[b]->kind()) == "spatial_conv2d";
  DataParallel::RecordFn record;
  if (I.rec)
    record = [&I, &g](trace::Kind kind, int64_t t, int64_t bytes, int action) {
      I.record_collective(g, kind, GroupAxis::kDp, t, bytes, action);
    };
  const bool fc_model = cfg_.sp_fc_model();
  I.dp = std::make_unique<DataParallel>(I.params, blocks, I.dp_comm.get(), fc_model ? g.dp : g.dp * g.sp,
                                        fc_model ? I.coord.dp : I.coord.dp * g.sp + I.coord.sp,
                                        cfg_.zero == 1, cfg_.bucket_mb, record);
  // Replicated parameters count towards the norm on one member of the group that shards the others.
  const int shard_rank = fc_model ? I.coord.sp : I.coord.tp;
  I.optim              = std::make_unique<OptimStep>(
      make_optimizer(cfg_.optim.kind, I.dp->optimizer_params(), cfg_.optim.sgd, cfg_.optim.adamw),
      cfg_.optim.clip_norm, [shard_rank](const Param* p) { return !p->tp_replicated || shard_rank == 0; });
}

// The spatial group and, when tracing, the recording of its halo exchanges and layout changes: HALO and
// LAYOUT events on the compute track inside the pass that waits for them (slices nest, like tp's
// collectives). The FC shards (--sp-fc model) use a communicator of their own, whose observer records them.
SpInfo Engine::spatial_info() {
  Impl& I = *impl_;
  SpInfo sp{I.sp_comm.get(), I.coord.sp, cfg_.grid.sp, {}, cfg_.sp_fc, I.sp_fc_comm.get()};
  if (I.rec)
    sp.record = [this](int64_t t_begin, int64_t t_end, int64_t bytes, bool layout_change) {
      Impl& J = *impl_;
      if (J.running_action < 0) return;
      trace::Event e;
      e.kind       = layout_change ? trace::Kind::kLayout : trace::Kind::kHalo;
      e.track      = trace::Track::kCompute;
      e.t_begin_ns = t_begin, e.t_end_ns = t_end;
      e.bytes  = bytes;
      e.action = J.running_action;
      J.record_group_event(cfg_.grid, e, GroupAxis::kSp);
    };
  return sp;
}

Engine::~Engine() = default;

std::vector<Param*> Engine::params() const {
  return impl_->params;
}
Optimizer& Engine::optimizer() {
  return impl_->optim->optimizer();
}
int64_t Engine::steps_done() const {
  return impl_->step_count;
}
void Engine::set_steps_done(int64_t steps) {
  impl_->step_count = steps;
}
int64_t Engine::optimizer_state_bytes() const {
  return impl_->optim->optimizer().state_bytes();
}

std::vector<int> Engine::local_blocks() const {
  std::vector<int> out;
  for (size_t b = 0; b < model_->blocks.size(); ++b)
    if (model_->blocks[b]) out.push_back(static_cast<int>(b));
  return out;
}

// The stage's blocks without gradients (dropout off).
Tensor Engine::evaluate_stage(int s, Tensor h) {
  for (int blk = cuts_[s]; blk < cuts_[s + 1]; ++blk) {
    Ctx c;
    c.training = false;
    h          = model_->blocks[blk]->forward(c, h);
  }
  return h;
}

void Engine::add_eval_stats(EvalStats& st, const Tensor& logits, const Tensor& labels) {
  LossResult r = model_->loss(logits, labels);  // vocab-parallel when the logits are split over tp
  Tensor pred  = model_->argmax(logits);
  int64_t rows = pred.numel();
  st.loss_sum += static_cast<double>(r.loss) * rows;
  const int32_t* yp = labels.data_i32();
  for (int64_t i = 0; i < rows; ++i) st.correct += pred.data_i32()[i] == yp[i];
  st.count += rows;
}

Engine::EvalStats Engine::evaluate(const Tensor& x, const Tensor& y) {
  Impl& I              = *impl_;
  const Grid& g        = cfg_.grid;
  const int last_stage = schedule_.num_stages - 1;
  const int64_t B      = x.dim(0);
  // Rows per dp rank; a batch that does not divide leaves its remainder to the last rank.
  const int64_t per = B / g.dp;
  const int64_t lo = I.coord.dp * per, hi = I.coord.dp == g.dp - 1 ? B : lo + per;
  const int m = std::max<int64_t>(1, std::min<int64_t>(cfg_.schedule.microbatches, hi - lo));
  // The evaluation schedule (pipeline::generate_evaluation): each micro-batch through every stage, forwards
  // and their transfers only.
  const pipeline::Schedule eval =
      pipeline::generate_evaluation(cfg_.schedule.pp, m, cfg_.schedule.virtual_stages);
  EvalStats st;
  std::map<std::pair<int, int>, Tensor> held;  // (stage, micro-batch) -> its input or its output
  for (const Action& act : eval.actions[I.coord.pp]) {
    const int s = act.stage, j = act.microbatch;
    const int64_t a = lo + (hi - lo) * j / m, b = lo + (hi - lo) * (j + 1) / m;
    const int tag = transfer_tag(0, act.kind == ActionKind::kRecvForward ? s - 1 : s, j);
    if (act.kind == ActionKind::kRecvForward) {
      Tensor h = Tensor::empty(I.block_output(cuts_[s] - 1, b - a, rows_of(b - a, g.sp, I.coord.sp)));
      I.pp_comm->recv(h.data(), h.numel(), schedule_.stage_device[s - 1], tag);
      held[{s - 1, j}] = h;  // what the previous stage produced
    } else if (act.kind == ActionKind::kSendForward) {
      const Tensor h = held.at({s, j});
      held.erase({s, j});
      I.pp_comm->send(h.data(), h.numel(), schedule_.stage_device[s + 1], tag);
    } else {
      Tensor h = s == 0 ? x.slice(a, b) : held.at({s - 1, j});
      held.erase({s - 1, j});
      h = evaluate_stage(s, h);
      // After the layout change (sp 1 or --sp-fc model: all).
      const RowRange share = cfg_.sp_fc_model() ? RowRange{0, b - a} : rows_of(b - a, g.sp, I.coord.sp);
      if (s == last_stage && share.size() > 0)
        add_eval_stats(st, h, y.slice(a + share.begin, a + share.end));
      else
        held[{s, j}] = h;
    }
  }
  // Only the last stage's tp-rank-0 devices hold the sums. Every device shares its three doubles bit for bit
  // (all-gather moves bytes, no float arithmetic) and adds them in double: a float sum would round token
  // counts above 2^24.
  bool holder = schedule_.stage_device[last_stage] == I.coord.pp && I.coord.tp == 0 &&
                (!cfg_.sp_fc_model() || I.coord.sp == 0);
  double mine[3] = {holder ? st.loss_sum : 0.0, holder ? static_cast<double>(st.correct) : 0.0,
                    holder ? static_cast<double>(st.count) : 0.0};
  const int n       = I.world.size();
  constexpr int kFl = static_cast<int>(sizeof mine / (sizeof(float)));
  std::vector<double> all(3 * static_cast<size_t>(n));
  std::memcpy(all.data(), mine, sizeof(mine));
  if (n > 1) {
    std::vector<float> in(kFl);
    std::memcpy(in.data(), mine, sizeof(mine));
    I.world.all_gather(reinterpret_cast<float*>(all.data()), in.data(), kFl);
  }
  double sums[3] = {0, 0, 0};
  for (int r = 0; r < n; ++r)
    for (int k = 0; k < 3; ++k) sums[k] += all[3 * r + k];
  return {sums[0], static_cast<int64_t>(std::llround(sums[1])), static_cast<int64_t>(std::llround(sums[2]))};
}

std::vector<std::pair<std::string, Tensor>> Engine::gather_params() {
  Impl& I       = *impl_;
  const Grid& g = cfg_.grid;
  std::vector<std::pair<std::string, Tensor>> out;
  // Parameter names and shapes of every block, from a model built on every device (cheap for the sizes here).
  auto full = build_model(model_->spec);
  for (size_t b = 0; b < full->blocks.size(); ++b) {
    int stage = 0;
    while (cuts_[stage + 1] <= static_cast<int>(b)) ++stage;
    const int pp_owner = schedule_.stage_device[stage];
    // The shards live on the tp group's members, or with --sp-fc model on the spatial group's.
    const bool fc_model = cfg_.sp_fc_model();
    const bool owner    = I.coord.dp == 0 && (fc_model || I.coord.sp == 0) && I.coord.pp == pp_owner;
    std::vector<Param*> mine;
    if (owner) model_->blocks[b]->collect_params(mine);
    std::vector<Param*> names;
    full->blocks[b]->collect_params(names);
    for (size_t i = 0; i < names.size(); ++i) {
      const int tag_head = static_cast<int>(2 * i), tag_data = tag_head + 1;
      if (owner)
        PX_CHECK(mine[i]->name == names[i]->name, "gather_params: {} vs {}", mine[i]->name, names[i]->name);
      Tensor t;
      if (rank_ == 0) t = Tensor::empty(names[i]->full_shape);
      // Each tp rank of the owning stage sends a header (shard_dim, groups, begin, local length along the
      // dim; shard_dim -1 from tp rank > 0 means "replicated, nothing follows") and then its shard.
      for (int tr = 0; tr < (fc_model ? g.sp : g.tp); ++tr) {
        const int src = fc_model ? g.rank({0, 0, pp_owner, tr}) : g.rank({0, tr, pp_owner});
        if (rank_ != src && rank_ != 0) continue;
        float head[4] = {-1, 1, 0, 0};
        Tensor shard;
        if (rank_ == src) {
          const Param& p  = *mine[i];
          const bool skip = p.shard_dim < 0 && tr > 0;
          head[0]         = skip ? -1.0f : static_cast<float>(p.shard_dim);
          head[1]         = static_cast<float>(p.shard_groups);
          head[2]         = static_cast<float>(p.shard_begin);
          head[3]         = p.shard_dim < 0 ? 0.0f : static_cast<float>(p.value.dim(p.shard_dim));
          if (tr == 0 && p.shard_dim < 0) head[0] = -2;  // whole tensor
          shard = p.value;
          if (src != 0) {
            I.world.send(head, 4, 0, tag_head);
            if (!skip) I.world.send(p.value.data(), p.value.numel(), 0, tag_data);
            continue;
          }
        } else {
          I.world.recv(head, 4, src, tag_head);
        }
        // rank 0 from here on
        const int dim = static_cast<int>(head[0]);
        if (dim == -1) continue;
        Param meta;
        meta.name       = names[i]->name;
        meta.full_shape = names[i]->full_shape;
        meta.shard_dim  = dim < 0 ? -1 : dim;
        Shape local     = meta.full_shape;
        if (dim >= 0) {
          meta.shard_groups = static_cast<int>(head[1]);
          meta.shard_begin  = static_cast<int64_t>(head[2]);
          local[dim]        = static_cast<int64_t>(head[3]);
        }
        if (!shard.defined()) {
          shard = Tensor::empty(local);
          I.world.recv(shard.data(), shard.numel(), src, tag_data);
        }
        copy_shard_to_full(meta, t, shard);
      }
      if (rank_ == 0) out.emplace_back(names[i]->name, t);
    }
  }
  return out;
}

}  // namespace paraxis
