#include "paraxis/parallel/engine.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <map>
#include <set>

#include "paraxis/core/error.h"
#include "paraxis/parallel/tensor_parallel.h"
#include "paraxis/pipeline/lower.h"
#include "paraxis/pipeline/partition.h"
#include "paraxis/pipeline/trace_kind.h"
#include "paraxis/pipeline/validate.h"
#include "paraxis/trace/recorder.h"

namespace paraxis {

using pipeline::Action;
using pipeline::ActionKind;

namespace {

int64_t product_tail(const Shape& s) {
  return s.empty() ? 0 : shape_numel(s) / s[0];
}

Shape with_batch(Shape s, int64_t batch) {
  s[0] = batch;
  return s;
}

std::string valid_divisors(int64_t n, int64_t limit) {
  std::string out;
  for (int64_t d = 1; d <= std::min(n, limit); ++d)
    if (n % d == 0) out += (out.empty() ? "" : ", ") + std::to_string(d);
  return out;
}

// Tag of a pipeline transfer: direction (0 activations, 1 gradients), the sending stage, the micro-batch.
int transfer_tag(int direction, int stage, int microbatch) {
  return (direction * 4096 + stage) * 65536 + microbatch;
}

}  // namespace

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
  auto model = build_model(spec);
  int stages = cfg.schedule.pp * cfg.schedule.virtual_stages;
  int blocks = static_cast<int>(model->blocks.size());
  PX_USER_CHECK(
      stages <= blocks,
      "{} pipeline stages (pp {} x virtual {}) but the model {} has only {} blocks; use --pp {} or fewer",
      stages, cfg.schedule.pp, cfg.schedule.virtual_stages, spec.describe(), blocks,
      blocks / cfg.schedule.virtual_stages);
  (void)valid_divisors;
}

struct Engine::Impl {
  Communicator& world;
  std::unique_ptr<Communicator> dp_comm, tp_comm, pp_comm;
  Coord coord;
  trace::Recorder* rec = nullptr;
  std::vector<Action> actions;   // this device's lowered list
  std::vector<int> my_stages;    // stages this device owns
  std::vector<Shape> block_out;  // output shape of each block for a batch of 1
  Shape model_in;                // input shape for a batch of 1
  DType model_in_dtype = DType::kF32;
  std::vector<int> first_backward_only;  // per block: 1 when the input gradient is never needed

  // Flat parameter and gradient storage (backward order), and dp buckets over it.
  std::vector<Param*> params;
  Tensor flat_value, flat_grad;
  int64_t flat_numel = 0;
  struct Bucket {
    int64_t begin = 0, end = 0;
    int pending = 0, total = 0;
    Work work;
    bool launched    = false;
    int64_t t_launch = 0;
  };
  std::vector<Bucket> buckets;
  std::vector<std::vector<int>> block_params;  // block -> indices into params
  std::vector<int> param_bucket;
  std::vector<int> block_remaining;  // backward passes left this step, per block

  // ZeRO-1
  int64_t shard_begin = 0, shard_len = 0;
  Tensor grad_shard, value_shard;
  std::vector<Param> shard_params;

  std::unique_ptr<Optimizer> opt;

  // Per-step state, keyed by (stage, micro-batch).
  using Key = std::pair<int, int>;
  std::map<Key, std::vector<Ctx>> ctx;
  std::map<Key, std::vector<Tensor>> dys;  // per block output gradient, kept between I and W
  std::map<Key, Tensor> act_out, act_in, grad_in, grad_out;
  std::map<Key, int64_t> stash;
  int64_t stash_now = 0, stash_peak = 0;
  std::vector<std::vector<Layer*>> deferring;  // per block: its layers whose weight gradients are deferred
  int64_t deferred_now = 0;                    // bytes they keep (part of stash_now)
  bool any_deferring   = false;
  std::vector<std::pair<Work, Tensor>> sends;
  double loss_sum    = 0;
  int64_t step_count = 0;  // optimizer steps taken: keys the dropout masks, restored on resume

  // Trace bookkeeping: message numbers per peer device (world rank) in each direction, so match_flows pairs
  // every SEND with its RECV by seq; and the dp group's collective call number (the same on every member).
  std::map<int, int32_t> trace_sent, trace_received;
  std::map<std::pair<int, int>, int32_t> trace_calls;  // (axis, the group's first world rank) -> calls

  explicit Impl(Communicator& w) : world(w) {}
};

Engine::Engine(const ModelSpec& spec, const EngineConfig& cfg, Communicator& world, trace::Recorder* recorder)
    : impl_(std::make_unique<Impl>(world)), cfg_(cfg), rank_(world.rank()) {
  Impl& I       = *impl_;
  const Grid& g = cfg_.grid;
  PX_CHECK(g.size() == world.size(), "grid {} has {} devices but the communicator has {}", g.describe(),
           g.size(), world.size());
  I.rec         = recorder;
  I.coord       = g.coord(rank_);
  const Coord c = I.coord;
  // Sub-communicators, split in the same order on every device (collectives over world).
  I.dp_comm = world.split(g.rank({0, c.tp, c.pp}), c.dp);
  I.tp_comm = world.split(g.rank({c.dp, 0, c.pp}), c.tp);
  I.pp_comm = world.split(g.rank({c.dp, c.tp, 0}), c.pp);

  // This device's tensor-parallel shard: the same blocks, split layers holding their slices. Block outputs
  // may be split (the Engine chains the local blocks' output shapes, so transfers use the local shapes).
  model_               = build_model(spec, TpInfo{I.tp_comm.get(), c.tp, g.tp});
  const size_t nblocks = model_->blocks.size();
  I.model_in           = model_->input_shape(1);
  I.model_in_dtype     = model_->input_dtype();
  I.first_backward_only.assign(nblocks, 0);
  // The data needs no gradient (nor, under tp, its all-reduce).
  I.first_backward_only[0] = model_->first_block_skips_input_pass();
  // Stage costs: the flops each block's passes run here (counting the skipped input pass would give the first
  // stage a third less backward than the others).
  std::vector<double> costs = model_->partition_costs(1);
  Shape s                   = I.model_in;
  for (size_t b = 0; b < nblocks; ++b) {
    s = model_->blocks[b]->output_shape(s);
    I.block_out.push_back(s);
  }
  if (!cfg_.block_costs.empty()) {
    PX_CHECK(cfg_.block_costs.size() == nblocks, "{} block costs for {} blocks", cfg_.block_costs.size(),
             nblocks);
    costs = cfg_.block_costs;
  }
  // Stages and the schedule.
  const int num_stages       = cfg_.schedule.pp * cfg_.schedule.virtual_stages;
  cuts_                      = pipeline::partition_stages(costs, num_stages).cuts;
  pipeline::Schedule compute = pipeline::generate_schedule(cfg_.schedule);
  schedule_                  = pipeline::lower_send_recv(compute);
  pipeline::validate_schedule(schedule_);
  I.actions = schedule_.actions[c.pp];
  for (int st = 0; st < schedule_.num_stages; ++st)
    if (schedule_.stage_device[st] == c.pp) I.my_stages.push_back(st);

  // Keep only this device's blocks; initialise them (each parameter from its own named stream, so the values
  // equal the single-device model's whatever the layout).
  std::vector<char> mine(nblocks, 0);
  for (int st : I.my_stages)
    for (int b = cuts_[st]; b < cuts_[st + 1]; ++b) mine[b] = 1;
  for (size_t b = 0; b < nblocks; ++b)
    if (!mine[b]) model_->blocks[b].reset();
  for (size_t b = 0; b < nblocks; ++b)
    if (mine[b]) model_->blocks[b]->init(cfg_.seed);

  // Flat storage in backward order (last block first), so gradient buckets fill from the front during
  // backward.
  I.block_params.assign(nblocks, {});
  for (size_t bi = nblocks; bi-- > 0;) {
    if (!mine[bi]) continue;
    std::vector<Param*> ps;
    model_->blocks[bi]->collect_params(ps);
    for (Param* p : ps) {
      I.block_params[bi].push_back(static_cast<int>(I.params.size()));
      I.params.push_back(p);
      I.flat_numel += p->value.numel();
    }
  }
  const int dp               = g.dp;
  int64_t padded             = cfg_.zero ? (I.flat_numel + dp - 1) / dp * dp : I.flat_numel;
  I.flat_value               = Tensor::zeros({std::max<int64_t>(padded, 1)});
  I.flat_grad                = Tensor::zeros({std::max<int64_t>(padded, 1)});
  int64_t off                = 0;
  const int64_t bucket_elems = std::max<int64_t>(1, static_cast<int64_t>(cfg_.bucket_mb * 1024 * 1024 / 4));
  I.param_bucket.assign(I.params.size(), 0);
  for (size_t i = 0; i < I.params.size(); ++i) {
    Param* p  = I.params[i];
    int64_t n = p->value.numel();
    Tensor v  = I.flat_value.slice(off, off + n).view(p->value.shape());
    v.copy_from(p->value);
    p->value = v;
    p->grad  = I.flat_grad.slice(off, off + n).view(p->value.shape());
    if (I.buckets.empty() || I.buckets.back().end - I.buckets.back().begin >= bucket_elems) {
      I.buckets.emplace_back();
      I.buckets.back().begin = off;
    }
    I.buckets.back().end = off + n;
    I.buckets.back().total++;
    I.param_bucket[i] = static_cast<int>(I.buckets.size()) - 1;
    off += n;
  }

  std::vector<Param*> opt_params = I.params;
  if (cfg_.zero == 1 && dp > 1) {
    I.shard_len   = padded / dp;
    I.shard_begin = c.dp * I.shard_len;
    I.grad_shard  = Tensor::zeros({I.shard_len});
    I.value_shard = Tensor::zeros({I.shard_len});
    // One pseudo-parameter per (parameter ∩ shard): the optimizer's state then covers exactly this shard.
    int64_t poff = 0;
    for (Param* p : I.params) {
      int64_t lo = std::max(poff, I.shard_begin),
              hi = std::min(poff + p->value.numel(), I.shard_begin + I.shard_len);
      if (lo < hi) {
        Param q;
        q.name          = fmt::format("{}[{}:{}]", p->name, lo - poff, hi - poff);
        q.value         = I.flat_value.slice(lo, hi);
        q.grad          = I.grad_shard.slice(lo - I.shard_begin, hi - I.shard_begin);
        q.full_shape    = {hi - lo};
        q.tp_replicated = p->tp_replicated;  // the grad norm counts replicated pieces on tp rank 0 only
        I.shard_params.push_back(q);
      }
      poff += p->value.numel();
    }
    opt_params.clear();
    for (Param& q : I.shard_params) opt_params.push_back(&q);
  }
  I.opt = make_optimizer(cfg_.optim.kind, opt_params, cfg_.optim.sgd, cfg_.optim.adamw);

  I.deferring.assign(nblocks, {});
  if (cfg_.defer_wgrad)
    for (size_t b = 0; b < nblocks; ++b) {
      if (!mine[b]) continue;
      std::vector<Layer*> leaves;
      model_->blocks[b]->collect_layers(leaves);
      for (Layer* l : leaves)
        if (l->defer_weight_grads(true)) I.deferring[b].push_back(l), I.any_deferring = true;
    }
}

Engine::~Engine() = default;

std::vector<Param*> Engine::params() const {
  return impl_->params;
}
Optimizer& Engine::optimizer() {
  return *impl_->opt;
}
int64_t Engine::steps_done() const {
  return impl_->step_count;
}
void Engine::set_steps_done(int64_t steps) {
  impl_->step_count = steps;
}
int64_t Engine::optimizer_state_bytes() const {
  return impl_->opt->state_bytes();
}

std::vector<int> Engine::local_blocks() const {
  std::vector<int> out;
  for (size_t b = 0; b < model_->blocks.size(); ++b)
    if (model_->blocks[b]) out.push_back(static_cast<int>(b));
  return out;
}

StepStats Engine::step(const Tensor& x, const Tensor& y, double lr) {
  Impl& I              = *impl_;
  auto t0              = std::chrono::steady_clock::now();
  const Grid& g        = cfg_.grid;
  const int m          = cfg_.schedule.microbatches;
  const int last_stage = schedule_.num_stages - 1;
  const int64_t B      = x.dim(0);
  PX_USER_CHECK(B % (int64_t{g.dp} * m) == 0, "batch of {} rows is not divisible by dp {} x micro-batches {}",
                B, g.dp, m);
  PX_CHECK(y.dim(0) == B, "batch x has {} rows but y has {}", B, y.dim(0));
  const int64_t rows = B / g.dp, mb = rows / m;
  const Tensor x_local   = x.slice(I.coord.dp * rows, (I.coord.dp + 1) * rows);
  const Tensor y_local   = y.slice(I.coord.dp * rows, (I.coord.dp + 1) * rows);
  const float grad_scale = 1.0f / static_cast<float>(m);
  if (I.rec) I.rec->step_begin();

  I.loss_sum  = 0;
  I.stash_now = I.stash_peak = 0;
  I.deferred_now             = 0;
  I.block_remaining.assign(model_->blocks.size(), 0);
  for (int b : local_blocks()) I.block_remaining[b] = m;
  for (auto& bk : I.buckets) bk.pending = bk.total, bk.launched = false;
  bool reduced = false, stepped = false;
  double grad_norm = 0, compute_ms = 0, optim_ms = 0;
  auto ms_since = [](std::chrono::steady_clock::time_point t) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count();
  };

  auto stage_input_shape = [&](int st) {
    int first = cuts_[st];
    return with_batch(first == 0 ? I.model_in : I.block_out[first - 1], mb);
  };
  auto stage_output_shape = [&](int st) { return with_batch(I.block_out[cuts_[st + 1] - 1], mb); };

  // Stash accounting of the deferred weight-gradient inputs (kept by the layers between W and the flush).
  auto track_deferred = [&] {
    int64_t bytes = 0;
    for (const auto& layers : I.deferring)
      for (const Layer* l : layers) bytes += l->deferred_bytes();
    I.stash_now += bytes - I.deferred_now;
    I.deferred_now = bytes;
    I.stash_peak   = std::max(I.stash_peak, I.stash_now);
  };
  auto launch_buckets = [&](int b) {
    for (int pi : I.block_params[b]) {
      Impl::Bucket& bk = I.buckets[I.param_bucket[pi]];
      if (--bk.pending == 0 && g.dp > 1 && cfg_.zero == 0) {
        bk.t_launch = trace::now_ns();
        bk.work =
            I.dp_comm->all_reduce_async(I.flat_grad.data() + bk.begin, bk.end - bk.begin, ReduceOp::kAverage);
        bk.launched = true;
      }
    }
  };
  // A block finished its last backward of the step: its gradients are final, launch full buckets. A block
  // with deferred weight gradients is final only after its flush.
  auto block_done = [&](int b) {
    if (--I.block_remaining[b] > 0) return;
    if (I.deferring[b].empty()) launch_buckets(b);
  };
  // The deferred weight gradients of the step, last block first (the bucket order), each block's buckets
  // launched as it completes. Run when the step's backward actions are over — after the last SEND of an
  // input gradient, so the previous stage is not kept waiting for this stage's big GEMMs — and shown in the
  // trace as one W action per block (micro-batch -1: all of them).
  auto flush_deferred = [&] {
    for (size_t b = I.deferring.size(); b-- > 0;) {
      if (I.deferring[b].empty()) continue;
      PX_CHECK(I.block_remaining[b] == 0,
               "block {}: deferred weight gradients flushed before its last W pass", b);
      const int64_t tb = trace::now_ns();
      for (Layer* l : I.deferring[b]) l->flush_weight_grads();
      if (I.rec) {
        const int st = static_cast<int>(std::upper_bound(cuts_.begin(), cuts_.end(), static_cast<int>(b)) -
                                        cuts_.begin()) -
                       1;  // the stage holding block b
        I.rec->record(trace::Kind::kBackwardWeight, st, -1, tb, trace::now_ns());
      }
      track_deferred();
      launch_buckets(static_cast<int>(b));
    }
  };

  auto run_backward = [&](int st, int j, bool input_pass, bool weight_pass) {
    Impl::Key key{st, j};
    std::vector<Ctx>& cx    = I.ctx.at(key);
    std::vector<Tensor>& dy = I.dys[key];
    int first = cuts_[st], last = cuts_[st + 1];
    if (input_pass) {
      Tensor gr = st == last_stage ? I.grad_out.at(key) : I.grad_in.at(key);
      if (st != last_stage) I.grad_in.erase(key);
      if (st == last_stage) I.grad_out.erase(key);
      dy.assign(last - first, Tensor());
      for (int b = last; b-- > first;) {
        dy[b - first] = gr;
        if (I.first_backward_only[b]) break;
        gr = model_->blocks[b]->backward_input(cx[b - first], gr);
      }
      if (st > 0) I.act_out[{-st - 1, j}] = gr;  // gradient for the previous stage (negative key: backward)
    }
    if (weight_pass) {
      // Last block first, like the input pass: the buckets fill from the back of the model (flat storage is
      // in backward order), so the first-filled bucket's all-reduce overlaps the earlier blocks' W passes.
      for (int b = last; b-- > first;) {
        model_->blocks[b]->backward_weight(cx[b - first], dy[b - first]);
        block_done(b);
      }
      I.stash_now -= I.stash[key];
      if (I.any_deferring) track_deferred();  // what the deferring layers kept stays stashed
      I.stash.erase(key);
      I.ctx.erase(key);
      I.dys.erase(key);
    }
  };

  // A collective on the comm track, from its launch (for the dp buckets: during the backward they overlap)
  // to its completion. The members of one call share flow_id: the group (its axis and its first member's
  // world rank) and the call number, which every member counts alike (collectives run in the same order).
  enum GroupAxis { kDpGroup, kTpGroup, kPpGroup, kWorldGroup };
  auto record_collective = [&](trace::Kind kind, GroupAxis axis, int64_t t_begin, int64_t bytes) {
    const Coord c    = I.coord;
    const int leader = axis == kDpGroup   ? g.rank({0, c.tp, c.pp})
                       : axis == kTpGroup ? g.rank({c.dp, 0, c.pp})
                       : axis == kPpGroup ? g.rank({c.dp, c.tp, 0})
                                          : 0;
    trace::Event e;
    e.kind = kind, e.track = trace::default_track(kind);
    e.t_begin_ns = t_begin, e.t_end_ns = trace::now_ns();
    e.bytes   = bytes;
    e.seq     = I.trace_calls[{axis, leader}]++;
    e.flow_id = (int64_t{axis} << 56) | (int64_t{leader} << 32) | e.seq;
    I.rec->record(e);
  };
  // The gradient norm's scalar all-reduce: a synchronisation point, so it is shown as communication and the
  // time a device waits there for its peers is not counted as optimizer compute.
  auto norm_all_reduce = [&](Communicator& comm, GroupAxis axis, float* value) {
    const int64_t t = trace::now_ns();
    comm.all_reduce(value, 1);
    if (I.rec) record_collective(trace::Kind::kAllReduce, axis, t, sizeof(float));
  };

  auto reduce_grads = [&] {
    if (reduced) return;
    reduced = true;
    flush_deferred();
    int64_t tb = trace::now_ns();
    if (g.dp > 1 && cfg_.zero == 0) {
      for (auto& bk : I.buckets) {
        PX_CHECK(bk.launched, "gradient bucket [{}, {}) never completed", bk.begin, bk.end);
        bk.work.wait();
        if (I.rec) record_collective(trace::Kind::kAllReduce, kDpGroup, bk.t_launch, (bk.end - bk.begin) * 4);
      }
    } else if (g.dp > 1) {
      I.dp_comm->reduce_scatter(I.grad_shard.data(), I.flat_grad.data(), I.shard_len, ReduceOp::kAverage);
      if (I.rec) record_collective(trace::Kind::kReduceScatter, kDpGroup, tb, I.flat_numel * 4);
    }
  };

  auto opt_step = [&] {
    if (stepped) return;
    stepped = true;
    reduce_grads();
    int64_t tb = trace::now_ns();
    auto t_opt = std::chrono::steady_clock::now();
    // Global gradient norm: tp-replicated parameters count once, pipeline stages and ZeRO shards add up.
    const bool zero  = cfg_.zero == 1 && g.dp > 1;
    auto counted     = [&](const Param* p) { return !p->tp_replicated || I.coord.tp == 0; };
    auto reduce_norm = [&](double sq) {
      float sqf = static_cast<float>(sq);
      if (g.tp > 1) norm_all_reduce(*I.tp_comm, kTpGroup, &sqf);
      if (g.pp > 1) norm_all_reduce(*I.pp_comm, kPpGroup, &sqf);
      if (zero) norm_all_reduce(*I.dp_comm, kDpGroup, &sqf);
      return std::sqrt(static_cast<double>(sqf));
    };
    // Without clipping the norm is only reported, so it is taken inside the update (one pass over memory
    // for norm, update and zeroing; Optimizer::step_fused) and reduced across devices afterwards.
    const bool fused = cfg_.optim.clip_norm <= 0;
    if (fused) {
      std::vector<double> sq_each(I.opt->params().size(), 0.0);
      I.opt->step_fused(lr, /*zero_grads=*/true, &sq_each);
      double sq = 0;
      for (size_t i = 0; i < sq_each.size(); ++i)
        if (counted(I.opt->params()[i])) sq += sq_each[i];
      if (I.rec) I.rec->record(trace::Kind::kOptStep, -1, -1, tb, trace::now_ns());
      grad_norm = reduce_norm(sq);
      tb        = trace::now_ns();
    } else {
      double sq = 0;
      for (Param* p : zero ? I.opt->params() : I.params)
        if (counted(p)) sq += sum_of_squares(p->grad.data(), p->grad.numel());
      if (I.rec) I.rec->record(trace::Kind::kOptStep, -1, -1, tb, trace::now_ns());
      grad_norm  = reduce_norm(sq);
      tb         = trace::now_ns();
      float coef = clip_coefficient(grad_norm, cfg_.optim.clip_norm);
      if (coef < 1.0f) scale_grads(I.opt->params(), coef);
      I.opt->step(lr);
    }
    if (zero) {
      I.value_shard.copy_from(I.flat_value.slice(I.shard_begin, I.shard_begin + I.shard_len));
      if (I.rec) I.rec->record(trace::Kind::kOptStep, -1, -1, tb, trace::now_ns());
      tb = trace::now_ns();
      I.dp_comm->all_gather(I.flat_value.data(), I.value_shard.data(), I.shard_len);
      if (I.rec) record_collective(trace::Kind::kAllGather, kDpGroup, tb, I.flat_numel * 4);
      tb = trace::now_ns();
      if (!fused) I.grad_shard.zero_();
    }
    // The fused update zeroed the optimizer's own gradients; with ZeRO-1 those are the shard, and the full
    // accumulation buffer remains.
    if (!fused || zero) I.flat_grad.zero_();
    optim_ms += ms_since(t_opt);
    if (I.rec) I.rec->record(trace::Kind::kOptStep, -1, -1, tb, trace::now_ns());
  };

  // A SEND/RECV names its peer by world rank (the trace's device index; `peer` here is the pipeline-group
  // rank) and its message number on that ordered pair of devices.
  auto trace_transfer = [&](trace::Event& e, int peer, int64_t bytes, std::map<int, int32_t>& counters) {
    const int device = g.rank({I.coord.dp, I.coord.tp, peer});
    e.peer           = static_cast<int16_t>(device);
    e.bytes          = bytes;
    e.seq            = counters[device]++;
  };

  Communicator* pp = I.pp_comm.get();
  for (const Action& a : I.actions) {
    const int st = a.stage, j = a.microbatch;
    Impl::Key key{st, j};
    std::optional<trace::Scope> scope;
    if (I.rec && a.kind != ActionKind::kReduceGrad && a.kind != ActionKind::kOptStep)
      scope.emplace(I.rec, pipeline::trace_kind(a.kind), st, j);
    const bool compute = a.kind == ActionKind::kForward || a.kind == ActionKind::kFullBackward ||
                         a.kind == ActionKind::kBackwardInput || a.kind == ActionKind::kBackwardWeight;
    const auto t_action = std::chrono::steady_clock::now();
    switch (a.kind) {
      case ActionKind::kForward: {
        Tensor in;
        if (st == 0) {
          in = x_local.slice(j * mb, (j + 1) * mb);
        } else if (auto it = I.act_in.find(key); it != I.act_in.end()) {
          in = it->second;
          I.act_in.erase(it);
        } else {
          in = I.act_out.at({st - 1, j});  // previous stage on this device: a local hand-off
          I.act_out.erase({st - 1, j});
        }
        std::vector<Ctx>& cx = I.ctx[key];
        cx.assign(cuts_[st + 1] - cuts_[st], Ctx{});
        for (Ctx& one : cx)
          one.step = static_cast<uint64_t>(I.step_count), one.microbatch = static_cast<uint64_t>(j);
        Tensor out = in;
        for (int b = cuts_[st]; b < cuts_[st + 1]; ++b)
          out = model_->blocks[b]->forward(cx[b - cuts_[st]], out);
        int64_t bytes = 0;
        for (const Ctx& one : cx) bytes += one.stashed_bytes();
        I.stash[key] = bytes;
        I.stash_now += bytes;
        I.stash_peak = std::max(I.stash_peak, I.stash_now);
        if (st == last_stage) {
          LossResult r = model_->loss(out, y_local.slice(j * mb, (j + 1) * mb), grad_scale);
          I.loss_sum += r.loss / m;
          I.grad_out[key] = r.dlogits;
        } else {
          I.act_out[key] = out;
        }
        break;
      }
      case ActionKind::kFullBackward:
      case ActionKind::kBackwardInput:
      case ActionKind::kBackwardWeight: {
        if (!I.grad_in.count(key) && st != last_stage && a.kind != ActionKind::kBackwardWeight) {
          // The next stage is on this device: take its input gradient directly.
          I.grad_in[key] = I.act_out.at({-(st + 1) - 1, j});
          I.act_out.erase({-(st + 1) - 1, j});
        }
        run_backward(st, j, a.kind != ActionKind::kBackwardWeight, a.kind != ActionKind::kBackwardInput);
        break;
      }
      case ActionKind::kSendForward: {
        Tensor t = I.act_out.at(key);
        I.act_out.erase(key);
        int peer = schedule_.stage_device[st + 1];
        if (scope) trace_transfer(scope->event(), peer, t.nbytes(), I.trace_sent);
        I.sends.emplace_back(pp->send_async(t.data(), t.numel(), peer, transfer_tag(0, st, j)), t);
        break;
      }
      case ActionKind::kRecvForward: {
        Tensor t = Tensor::empty(stage_input_shape(st));
        int peer = schedule_.stage_device[st - 1];
        if (scope) trace_transfer(scope->event(), peer, t.nbytes(), I.trace_received);
        pp->recv(t.data(), t.numel(), peer, transfer_tag(0, st - 1, j));
        I.act_in[key] = t;
        break;
      }
      case ActionKind::kSendBackward: {
        Tensor t = I.act_out.at({-st - 1, j});
        I.act_out.erase({-st - 1, j});
        int peer = schedule_.stage_device[st - 1];
        if (scope) trace_transfer(scope->event(), peer, t.nbytes(), I.trace_sent);
        I.sends.emplace_back(pp->send_async(t.data(), t.numel(), peer, transfer_tag(1, st, j)), t);
        break;
      }
      case ActionKind::kRecvBackward: {
        Tensor t = Tensor::empty(stage_output_shape(st));
        int peer = schedule_.stage_device[st + 1];
        if (scope) trace_transfer(scope->event(), peer, t.nbytes(), I.trace_received);
        pp->recv(t.data(), t.numel(), peer, transfer_tag(1, st + 1, j));
        I.grad_in[key] = t;
        break;
      }
      case ActionKind::kReduceGrad:
        reduce_grads();
        break;
      case ActionKind::kOptStep:
        opt_step();
        break;
    }
    if (compute) compute_ms += ms_since(t_action);
  }
  for (auto& [w, t] : I.sends) w.wait();
  I.sends.clear();
  opt_step();
  PX_CHECK(I.ctx.empty() && I.act_out.empty() && I.act_in.empty() && I.grad_in.empty(),
           "schedule left {} stashed micro-batches and {} unsent tensors", I.ctx.size(),
           I.act_out.size() + I.act_in.size() + I.grad_in.size());

  // The loss lives on the last stage's devices; one all-reduce makes it known everywhere.
  float loss           = (schedule_.stage_device[last_stage] == I.coord.pp && I.coord.tp == 0)
                             ? static_cast<float>(I.loss_sum)
                             : 0.0f;
  const int64_t t_loss = trace::now_ns();
  I.world.all_reduce(&loss, 1);
  if (I.rec) {
    record_collective(trace::Kind::kAllReduce, kWorldGroup, t_loss, sizeof(float));
    I.rec->step_end();
  }
  StepStats out;
  out.loss             = loss / g.dp;
  out.grad_norm        = grad_norm;
  out.peak_stash_bytes = I.stash_peak;
  out.compute_ms       = compute_ms;
  out.optim_ms         = optim_ms;
  out.step_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  ++I.step_count;
  (void)product_tail;
  return out;
}

}  // namespace paraxis

namespace paraxis {

Engine::EvalStats Engine::evaluate(const Tensor& x, const Tensor& y) {
  Impl& I              = *impl_;
  const Grid& g        = cfg_.grid;
  const int last_stage = schedule_.num_stages - 1;
  const int64_t B      = x.dim(0);
  // Rows per dp rank; a batch that does not divide leaves its remainder to the last rank.
  const int64_t per = B / g.dp;
  const int64_t lo = I.coord.dp * per, hi = I.coord.dp == g.dp - 1 ? B : lo + per;
  const int m = std::max<int64_t>(1, std::min<int64_t>(cfg_.schedule.microbatches, hi - lo));
  EvalStats st;
  Communicator* pp = I.pp_comm.get();
  for (int j = 0; j < m; ++j) {
    int64_t a = lo + (hi - lo) * j / m, b = lo + (hi - lo) * (j + 1) / m;
    if (a == b) continue;
    Tensor h;
    for (int s : I.my_stages) {
      if (s == 0) {
        h = x.slice(a, b);
      } else if (schedule_.stage_device[s - 1] != I.coord.pp) {
        Shape in = with_batch(I.block_out[cuts_[s] - 1], b - a);
        h        = Tensor::empty(in);
        pp->recv(h.data(), h.numel(), schedule_.stage_device[s - 1], transfer_tag(0, s - 1, j));
      }
      for (int blk = cuts_[s]; blk < cuts_[s + 1]; ++blk) {
        Ctx c;
        c.training = false;
        h          = model_->blocks[blk]->forward(c, h);
      }
      if (s == last_stage) {
        Tensor labels = y.slice(a, b);
        LossResult r  = model_->loss(h, labels);  // vocab-parallel when the logits are split over tp
        Tensor pred   = model_->argmax(h);
        int64_t rows  = pred.numel();
        st.loss_sum += static_cast<double>(r.loss) * rows;
        const int32_t* yp = labels.data_i32();
        for (int64_t i = 0; i < rows; ++i) st.correct += pred.data_i32()[i] == yp[i];
        st.count += rows;
      } else if (schedule_.stage_device[s + 1] != I.coord.pp) {
        pp->send(h.data(), h.numel(), schedule_.stage_device[s + 1], transfer_tag(0, s, j));
      }
    }
  }
  // Only the last stage's tp-rank-0 devices hold the sums. Every device shares its three doubles bit for bit
  // (all-gather moves bytes, no float arithmetic) and adds them in double: a float sum would round token
  // counts above 2^24.
  bool holder    = schedule_.stage_device[last_stage] == I.coord.pp && I.coord.tp == 0;
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
    const bool owner   = I.coord.dp == 0 && I.coord.pp == pp_owner;
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
      for (int tr = 0; tr < g.tp; ++tr) {
        const int src = g.rank({0, tr, pp_owner});
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
