// The step's interpreter: runs this device's action list (pipeline::generate_step, validated at construction)
// in order. Every action of the step is in that list, the tail included; this file only says what each kind
// does on a device. docs/architecture.md, "One step, one program".
#include <chrono>
#include <cmath>

#include "parallel/engine_impl.h"
#include "paraxis/core/error.h"
#include "paraxis/parallel/spatial.h"
#include "paraxis/pipeline/trace_kind.h"

namespace paraxis {

using pipeline::Action;
using pipeline::ActionKind;
using Key = StageBuffers::Key;

namespace {

double ms_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count();
}

Tensor take(std::map<Key, Tensor>& from, Key key, const char* what) {
  auto it = from.find(key);
  PX_CHECK(it != from.end(), "stage {} micro-batch {}: no {} (the schedule's order is broken)", key.first,
           key.second, what);
  Tensor t = it->second;
  from.erase(it);
  return t;
}

// Actions shown as one slice on the device's trace; the collectives record themselves from launch to end.
bool traced_as_action(ActionKind k) {
  return pipeline::is_compute(k) || pipeline::is_transfer(k) || k == ActionKind::kFlushWeight ||
         k == ActionKind::kOptStep;
}

}  // namespace

struct StepRun {
  Engine& e;
  Engine::Impl& I;
  const Grid& g;
  const std::vector<int>& cuts;
  const int last_stage;
  const int m;
  StepState st;
  double optim_ms = 0;
  int action_     = -1;  // the index of the running action in the device's list

  StepRun(Engine& engine, const Tensor& x, const Tensor& y, double lr)
      : e(engine),
        I(*engine.impl_),
        g(engine.cfg_.grid),
        cuts(engine.cuts_),
        last_stage(engine.schedule_.num_stages - 1),
        m(engine.cfg_.schedule.microbatches) {
    const int64_t B = x.dim(0);
    PX_USER_CHECK(B % (int64_t{g.dp} * m) == 0,
                  "batch of {} rows is not divisible by dp {} x micro-batches {}", B, g.dp, m);
    PX_CHECK(y.dim(0) == B, "batch x has {} rows but y has {}", B, y.dim(0));
    const int64_t rows = B / g.dp;
    st.mb              = rows / m;
    st.x_local         = x.slice(I.coord.dp * rows, (I.coord.dp + 1) * rows);
    st.y_local         = y.slice(I.coord.dp * rows, (I.coord.dp + 1) * rows);
    st.grad_scale      = 1.0f / static_cast<float>(m);
    st.share           = engine.cfg_.sp_fc_model() ? RowRange{0, st.mb} : rows_of(st.mb, g.sp, I.coord.sp);
    st.lr              = lr;
    st.block_remaining.assign(e.model_->blocks.size(), 0);
    for (int b : e.local_blocks()) st.block_remaining[b] = m;
    I.dp->begin_step();
  }

  void run(size_t i) {
    const Action& a = I.actions[i];
    std::optional<trace::Scope> scope;
    action_ = I.running_action = static_cast<int>(i);
    if (I.rec && traced_as_action(a.kind)) {
      scope.emplace(I.rec, pipeline::trace_kind(a.kind), a.stage, a.microbatch);
      scope->event().action = action_;
    }
    const bool compute = pipeline::is_compute(a.kind) || a.kind == ActionKind::kFlushWeight;
    if (compute) arm_following(i);
    const auto t = std::chrono::steady_clock::now();
    dispatch(a, scope ? &scope->event() : nullptr);
    if (compute) st.compute_ms += ms_since(t);
  }

  // The REDUCE_GRAD actions right after action i: their buckets start the moment they are complete, during i.
  void arm_following(size_t i) {
    for (size_t k = i + 1; k < I.actions.size() && I.actions[k].kind == ActionKind::kReduceGrad; ++k)
      if (I.actions[k].bucket() >= 0) I.dp->arm(I.actions[k].bucket(), static_cast<int>(k));
  }

  void dispatch(const Action& a, trace::Event* ev) {
    const int s = a.stage, j = a.microbatch;
    switch (a.kind) {
      case ActionKind::kForward:
        return forward(s, j);
      case ActionKind::kRecompute:
        return recompute(s, j);
      case ActionKind::kFullBackward:
        return backward(s, j, true, true);
      case ActionKind::kBackwardInput:
        return backward(s, j, true, false);
      case ActionKind::kBackwardWeight:
        return backward(s, j, false, true);
      case ActionKind::kSendForward:
        return send(ev, 0, s, j, take(I.buf.output, {s, j}, "activation to send"));
      case ActionKind::kSendBackward:
        return send(ev, 1, s, j, take(I.buf.grad_input, {s, j}, "gradient to send"));
      case ActionKind::kRecvForward:
        I.buf.input[{s, j}] = receive(ev, 0, s, j);
        return;
      case ActionKind::kRecvBackward:
        I.buf.grad_output[{s, j}] = receive(ev, 1, s, j);
        return;
      case ActionKind::kFlushWeight:
        return flush(s);
      case ActionKind::kReduceGrad:
        return reduce_grad(a);
      case ActionKind::kReduceScatter:
        return I.dp->reduce_scatter(action_);
      case ActionKind::kGradNorm:
        return timed([&] { grad_norm(); });
      case ActionKind::kOptStep:
        return opt_step();
      case ActionKind::kAllGather:
        return timed([&] { I.dp->all_gather(action_); });
    }
  }

  template <class F>
  void timed(F&& f) {
    const auto t = std::chrono::steady_clock::now();
    f();
    optim_ms += ms_since(t);
  }

  void forward(int s, int j) {
    const Key key{s, j};
    Tensor in;
    if (s == 0)
      in = st.x_local.slice(j * st.mb, (j + 1) * st.mb);
    else if (I.buf.input.count(key))
      in = take(I.buf.input, key, "received activation");
    else
      in = take(I.buf.output, {s - 1, j}, "activation of the previous stage");  // on this device: a hand-off
    Tensor out = run_blocks(s, j, in);
    if (e.cfg_.recompute) {  // keep the input, drop what the blocks stashed: R rebuilds it
      const int64_t dropped = I.buf.stash_bytes[key];
      I.buf.ctx.erase(key);
      I.buf.kept_input[key]  = in;
      I.buf.stash_bytes[key] = kept_bytes(s, in);
      stash_add(kept_bytes(s, in) - dropped);
    }
    if (s == last_stage) {
      // Under sp the logits are this device's share of the micro-batch (after the layout change).
      const int64_t lo = j * st.mb + st.share.begin, hi = j * st.mb + st.share.end;
      LossResult r = e.model_->loss(out, st.y_local.slice(lo, hi), st.grad_scale);
      st.loss_sum += r.loss / m;
      I.buf.grad_output[key] = r.dlogits;
    } else {
      I.buf.output[key] = out;
    }
  }

  // The stage's blocks forward on `in` with micro-batch j's context (dropout masks are keyed on step and
  // micro-batch, so a recompute draws the same ones); what they stash for the backward is counted.
  Tensor run_blocks(int s, int j, const Tensor& in) {
    const Key key{s, j};
    std::vector<Ctx>& cx = I.buf.ctx[key];
    cx.assign(cuts[s + 1] - cuts[s], Ctx{});
    for (Ctx& one : cx)
      one.step = static_cast<uint64_t>(I.step_count), one.microbatch = static_cast<uint64_t>(j);
    Tensor out = in;
    for (int b = cuts[s]; b < cuts[s + 1]; ++b) out = e.model_->blocks[b]->forward(cx[b - cuts[s]], out);
    int64_t bytes = 0;
    for (const Ctx& one : cx) bytes += one.stashed_bytes();
    I.buf.stash_bytes[key] += bytes;
    stash_add(bytes);
    return out;
  }

  // What keeping a stage's input costs: nothing on stage 0, whose input is a view of the step's batch.
  static int64_t kept_bytes(int s, const Tensor& in) { return s == 0 ? 0 : in.nbytes(); }

  // R: the forward again from the kept input, for the backward that follows (its output is not needed: the
  // next stage has it, or the loss's gradient is kept).
  void recompute(int s, int j) {
    const Key key{s, j};
    const Tensor in = take(I.buf.kept_input, key, "kept input to recompute from");
    run_blocks(s, j, in);
    I.buf.stash_bytes[key] -= kept_bytes(s, in);
    stash_add(-kept_bytes(s, in));
  }

  void backward(int s, int j, bool input_pass, bool weight_pass) {
    const Key key{s, j};
    std::vector<Ctx>& cx    = I.buf.ctx.at(key);
    std::vector<Tensor>& dy = I.buf.dys[key];
    const int first = cuts[s], last = cuts[s + 1];
    if (input_pass) {
      Tensor gr = I.buf.grad_output.count(key) ? take(I.buf.grad_output, key, "output gradient")
                                               : take(I.buf.grad_input, {s + 1, j}, "next stage's gradient");
      dy.assign(last - first, Tensor());
      for (int b = last; b-- > first;) {
        dy[b - first] = gr;
        if (I.first_backward_only[b]) break;
        gr = e.model_->blocks[b]->backward_input(cx[b - first], gr);
      }
      if (s > 0) I.buf.grad_input[key] = gr;  // for the previous stage (SEND_B, or a local hand-off)
    }
    if (!weight_pass) return;
    // Last block first, like the input pass: the buckets fill from the back of the model (flat storage is in
    // backward order), so the first-filled bucket's all-reduce overlaps the earlier blocks' W passes.
    for (int b = last; b-- > first;) {
      e.model_->blocks[b]->backward_weight(cx[b - first], dy[b - first]);
      block_done(b);
    }
    stash_add(-I.buf.stash_bytes[key]);
    if (I.any_deferring) track_deferred();  // what the deferring layers kept stays stashed
    I.buf.stash_bytes.erase(key);
    I.buf.ctx.erase(key);
    I.buf.dys.erase(key);
  }

  // A block finished a weight pass; after its last of the step its gradients are final (a block with
  // deferred weight gradients only after its FLUSH_W).
  void block_done(int b) {
    if (--st.block_remaining[b] > 0) return;
    if (I.deferring[b].empty()) gradients_final(b);
  }

  // Block b's gradients are complete on this device: (--sp-fc model, conv side) summed over the spatial
  // group, whose members each hold their rows' part; then to the data-parallel buckets.
  void gradients_final(int b) {
    if (I.sp_summed[b]) {
      std::vector<Param*> ps;
      e.model_->blocks[b]->collect_params(ps);
      const int64_t t = trace::now_ns();
      int64_t bytes   = 0;
      for (Param* p : ps) {
        I.sp_comm->all_reduce(p->grad.data(), p->grad.numel());
        bytes += p->grad.nbytes();
      }
      if (I.rec) I.record_collective(g, trace::Kind::kAllReduce, GroupAxis::kSp, t, bytes, action_);
    }
    I.dp->block_done(b);
  }

  // FLUSH_W: stage s's deferred weight gradients, last block first (the bucket order).
  void flush(int s) {
    for (int b = cuts[s + 1]; b-- > cuts[s];) {
      if (I.deferring[b].empty()) continue;
      PX_CHECK(st.block_remaining[b] == 0, "{}FLUSH_W runs before block {}'s last W pass", s, b);
      for (Layer* l : I.deferring[b]) l->flush_weight_grads();
      track_deferred();
      gradients_final(b);
    }
  }

  void stash_add(int64_t bytes) {
    st.stash_now += bytes;
    st.stash_peak = std::max(st.stash_peak, st.stash_now);
  }

  // Stash accounting of the deferred weight-gradient inputs (kept by the layers between W and the flush).
  void track_deferred() {
    int64_t bytes = 0;
    for (const auto& layers : I.deferring)
      for (const Layer* l : layers) bytes += l->deferred_bytes();
    stash_add(bytes - st.deferred_now);
    st.deferred_now = bytes;
  }

  // A SEND/RECV names its peer by world rank (the trace's device index; `peer` here is the pipeline-group
  // rank) and its message number on that ordered pair of devices.
  void trace_transfer(trace::Event* ev, int peer, int64_t bytes, std::map<int, int32_t>& counters) {
    if (!ev) return;
    const int device = g.rank({I.coord.dp, I.coord.tp, peer, I.coord.sp});
    ev->peer         = static_cast<int16_t>(device);
    ev->bytes        = bytes;
    ev->seq          = counters[device]++;
  }

  // direction 0: stage s's output activation to s+1; 1: the gradient of s's input to s-1.
  void send(trace::Event* ev, int direction, int s, int j, Tensor t) {
    const int peer = e.schedule_.stage_device[direction == 0 ? s + 1 : s - 1];
    trace_transfer(ev, peer, t.nbytes(), I.trace_sent);
    st.sends.emplace_back(I.pp_comm->send_async(t.data(), t.numel(), peer, transfer_tag(direction, s, j)), t);
  }

  // direction 0: stage s's input activation from s-1; 1: the gradient of s's output from s+1.
  Tensor receive(trace::Event* ev, int direction, int s, int j) {
    const int from = direction == 0 ? s - 1 : s + 1;
    // Under sp each member's own slab (uneven rows) or share of the samples: the same member of the
    // neighbouring stage (the pipeline group spans one sp coordinate) holds the same shape.
    const Shape shape = direction == 0 ? I.block_output(cuts[s] - 1, st.mb, st.share)
                                       : I.block_output(cuts[s + 1] - 1, st.mb, st.share);
    Tensor t          = Tensor::empty(shape);
    const int peer    = e.schedule_.stage_device[from];
    trace_transfer(ev, peer, t.nbytes(), I.trace_received);
    I.pp_comm->recv(t.data(), t.numel(), peer, transfer_tag(direction, from, j));
    return t;
  }

  void reduce_grad(const Action& a) {
    if (a.bucket() >= 0) return I.dp->reduce(a.bucket(), action_);
    for (int b = 0; b < static_cast<int>(I.dp->buckets().size()); ++b)
      I.dp->reduce(b, action_);  // a hand-written list: every bucket
  }

  // The gradient norm's scalar all-reduces: synchronisation points, so they are shown as communication and
  // the time a device waits there for its peers is not counted as optimizer compute.
  // GRAD_NORM shows as the local part (the squares with clipping, their sum otherwise) on the compute track.
  void grad_norm() {
    I.dp->wait_all();
    const int64_t t0 = trace::now_ns();
    I.optim->grad_norm([&](double sq) {
      if (I.rec) record_action(trace::Kind::kOptStep, t0);
      float sqf = static_cast<float>(sq);
      if (g.tp > 1) norm_all_reduce(*I.tp_comm, GroupAxis::kTp, &sqf);
      if (g.pp > 1) norm_all_reduce(*I.pp_comm, GroupAxis::kPp, &sqf);
      if (e.cfg_.sp_fc_model()) norm_all_reduce(*I.sp_comm, GroupAxis::kSp, &sqf);  // FC shards
      if (I.dp->zero1()) norm_all_reduce(*I.dp_comm, GroupAxis::kDp, &sqf);
      return std::sqrt(static_cast<double>(sqf));
    });
  }

  void norm_all_reduce(Communicator& comm, GroupAxis axis, float* value) {
    const int64_t t = trace::now_ns();
    comm.all_reduce(value, 1);
    // (the tensor-parallel group's calls are recorded by its observer, Engine::Impl::record_layer_call)
    if (I.rec && axis != GroupAxis::kTp)
      I.record_collective(g, trace::Kind::kAllReduce, axis, t, sizeof(float), action_);
  }

  void record_action(trace::Kind kind, int64_t t_begin) {
    trace::Event e;
    e.kind = kind, e.track = trace::default_track(kind);
    e.t_begin_ns = t_begin, e.t_end_ns = trace::now_ns();
    e.action = action_;
    I.rec->record(e);
  }

  void opt_step() {
    I.dp->wait_all();
    timed([&] {
      I.optim->update(st.lr);
      I.dp->zero_grads(/*fused=*/!I.optim->clips());
    });
  }

  StepStats finish(std::chrono::steady_clock::time_point t0) {
    I.running_action = -1;
    for (auto& [w, t] : st.sends) w.wait();
    PX_CHECK(I.buf.empty(), "schedule left {} stashed micro-batches and {} unsent tensors", I.buf.ctx.size(),
             I.buf.output.size() + I.buf.input.size() + I.buf.grad_input.size());
    // The loss lives on the last stage's devices; one all-reduce makes it known everywhere.
    float loss           = (e.schedule_.stage_device[last_stage] == I.coord.pp && I.coord.tp == 0)
                               ? static_cast<float>(st.loss_sum)
                               : 0.0f;
    const int64_t t_loss = trace::now_ns();
    I.world.all_reduce(&loss, 1);
    if (I.rec) {
      I.record_collective(g, trace::Kind::kAllReduce, GroupAxis::kWorld, t_loss, sizeof(float));
      I.rec->step_end();
    }
    StepStats out;
    out.loss             = loss / (g.dp * g.sp);
    out.grad_norm        = I.optim->norm();
    out.peak_stash_bytes = st.stash_peak;
    out.compute_ms       = st.compute_ms;
    out.optim_ms         = optim_ms;
    out.step_ms          = ms_since(t0);
    ++I.step_count;
    return out;
  }
};

StepStats Engine::step(const Tensor& x, const Tensor& y, double lr) {
  const auto t0 = std::chrono::steady_clock::now();
  if (impl_->rec) impl_->rec->step_begin();
  StepRun run(*this, x, y, lr);
  for (size_t i = 0; i < impl_->actions.size(); ++i) run.run(i);
  return run.finish(t0);
}

}  // namespace paraxis
