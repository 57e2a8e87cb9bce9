// The backend-independent front of every communicator: check the arguments, give the call its sequence
// number, record it in the ring buffer, then hand it to the backend (the c10d pattern).
#include "paraxis/comm/communicator.h"

#include <algorithm>

#include "paraxis/core/error.h"

namespace paraxis {

const char* reduce_op_name(ReduceOp op) {
  switch (op) {
    case ReduceOp::kSum:
      return "sum";
    case ReduceOp::kAverage:
      return "average";
    case ReduceOp::kMax:
      return "max";
  }
  return "?";
}

const char* comm_op_name(CommOp op) {
  switch (op) {
    case CommOp::kAllReduce:
      return "all_reduce";
    case CommOp::kReduceScatter:
      return "reduce_scatter";
    case CommOp::kAllGather:
      return "all_gather";
    case CommOp::kBroadcast:
      return "broadcast";
    case CommOp::kAllToAll:
      return "all_to_all";
    case CommOp::kBarrier:
      return "barrier";
    case CommOp::kSplit:
      return "split";
    case CommOp::kSend:
      return "send";
    case CommOp::kRecv:
      return "recv";
  }
  return "?";
}

bool comm_op_is_collective(CommOp op) {
  return op != CommOp::kSend && op != CommOp::kRecv;
}

const char* op_state_name(OpState s) {
  switch (s) {
    case OpState::kQueued:
      return "queued";
    case OpState::kRunning:
      return "running";
    case OpState::kDone:
      return "done";
    case OpState::kFailed:
      return "failed";
  }
  return "?";
}

std::string describe_call(const CommCall& c) {
  std::string s = fmt::format("{} #{}", comm_op_name(c.op), c.seq);
  switch (c.op) {
    case CommOp::kAllReduce:
    case CommOp::kReduceScatter:
      return s + fmt::format(" ({} floats, {})", c.count, reduce_op_name(c.reduce));
    case CommOp::kAllGather:
    case CommOp::kAllToAll:
      return s + fmt::format(" ({} floats)", c.count);
    case CommOp::kBroadcast:
      return s + fmt::format(" ({} floats, root {})", c.count, c.peer);
    case CommOp::kBarrier:
      return s;
    case CommOp::kSplit:
      return s + fmt::format(" (color {}, key {})", c.color, c.key);
    case CommOp::kSend:
      return s + fmt::format(" ({} floats to rank {}, tag {})", c.count, c.peer, c.tag);
    case CommOp::kRecv:
      return s + fmt::format(" ({} floats from rank {}, tag {})", c.count, c.peer, c.tag);
  }
  return s;
}

void Work::wait() {
  if (state_) state_->wait();
}
bool Work::done() {
  return !state_ || state_->test();
}

Communicator::Communicator(int rank, int size, std::string name)
    : rank_(rank), size_(size), name_(std::move(name)) {}

namespace {
bool overlaps(const float* a, int64_t na, const float* b, int64_t nb) {
  return na > 0 && nb > 0 && a < b + nb && b < a + na;
}
}  // namespace

CommCall Communicator::make_call(CommOp op) const {
  CommCall c;
  c.op = op;
  return c;
}

CommCall Communicator::prepare(CommCall c) {
  const char* op = comm_op_name(c.op);
  PX_USER_CHECK(c.count >= 0, "{}: count {} is negative; pass the number of elements (0 or more)", op,
                c.count);
  const bool has_input = c.op == CommOp::kReduceScatter || c.op == CommOp::kAllGather ||
                         c.op == CommOp::kAllToAll || c.op == CommOp::kSend;
  const bool has_output = c.op != CommOp::kSend && c.op != CommOp::kBarrier && c.op != CommOp::kSplit;
  PX_USER_CHECK(!(c.count > 0 && has_input && c.input == nullptr), "{}: input is null for {} elements", op,
                c.count);
  PX_USER_CHECK(!(c.count > 0 && has_output && c.output == nullptr), "{}: output is null for {} elements", op,
                c.count);
  const int64_t n = size_;
  switch (c.op) {
    case CommOp::kBroadcast:
      PX_USER_CHECK(c.peer >= 0 && c.peer < size_, "broadcast: root {} is out of range; use a rank in 0..{}",
                    c.peer, size_ - 1);
      break;
    case CommOp::kSend:
    case CommOp::kRecv:
      PX_USER_CHECK(c.peer >= 0 && c.peer < size_, "{}: peer {} is out of range; use a rank in 0..{}", op,
                    c.peer, size_ - 1);
      PX_USER_CHECK(c.peer != rank_, "{}: peer {} is this rank itself; send to or receive from another rank",
                    op, c.peer);
      PX_USER_CHECK(c.tag >= 0, "{}: tag {} is negative; use a tag of 0 or more", op, c.tag);
      break;
    case CommOp::kReduceScatter:
      // The one allowed overlap: the output is this rank's own chunk of the input (in place).
      PX_USER_CHECK(
          c.output == c.input + rank_ * c.count || !overlaps(c.output, c.count, c.input, n * c.count),
          "reduce_scatter: output overlaps the input; use a separate buffer or this rank's own chunk "
          "(input + rank·count)");
      break;
    case CommOp::kAllGather:
      PX_USER_CHECK(
          c.input == c.output + rank_ * c.count || !overlaps(c.output, n * c.count, c.input, c.count),
          "all_gather: input overlaps the output; use a separate buffer or this rank's own chunk "
          "(output + rank·count)");
      break;
    case CommOp::kAllToAll:
      PX_USER_CHECK(!overlaps(c.output, n * c.count, c.input, n * c.count),
                    "all_to_all: output overlaps the input; all_to_all needs separate buffers");
      break;
    default:
      break;
  }
  PX_CHECK(!aborted(), "{} on {}: {}", op, name_, abort_reason());
  std::lock_guard<std::mutex> lock(ring_mutex_);
  c.seq = comm_op_is_collective(c.op) ? coll_seq_++ : p2p_seq_++;
  return c;
}

Communicator::RingRef Communicator::record(const CommCall& c, OpState state) {
  std::lock_guard<std::mutex> lock(ring_mutex_);
  RingRef ref;
  ref.stamp             = ++records_;
  ref.slot              = static_cast<int>(ref.stamp % kRingSize);
  ring_[ref.slot]       = OpRecord{c, state, std::chrono::steady_clock::now()};
  ring_stamp_[ref.slot] = ref.stamp;
  return ref;
}

void Communicator::set_state(RingRef ref, OpState state) {
  std::lock_guard<std::mutex> lock(ring_mutex_);
  if (ring_stamp_[ref.slot] != ref.stamp) return;  // overwritten by newer calls
  ring_[ref.slot].state = state;
  if (state == OpState::kRunning) ring_[ref.slot].started = std::chrono::steady_clock::now();
}

void Communicator::run_recorded(const CommCall& c, RingRef ref) {
  set_state(ref, OpState::kRunning);
  try {
    run(c);
  } catch (...) {
    set_state(ref, OpState::kFailed);
    throw;
  }
  set_state(ref, OpState::kDone);
}

namespace {
int64_t steady_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
}  // namespace

void Communicator::blocking(CommCall c) {
  c                     = prepare(c);
  const int64_t t_begin = observer_ ? steady_ns() : 0;
  run_recorded(c, record(c, OpState::kQueued));
  if (observer_) observer_(c, t_begin, steady_ns());
}

Work Communicator::async(CommCall c) {
  c = prepare(c);
  return run_async(c, record(c, OpState::kQueued));
}

uint64_t Communicator::next_seq() const {
  std::lock_guard<std::mutex> lock(ring_mutex_);
  return coll_seq_;
}

std::vector<OpRecord> Communicator::recent_ops() const {
  std::lock_guard<std::mutex> lock(ring_mutex_);
  std::vector<OpRecord> out;
  uint64_t first = records_ >= kRingSize ? records_ - kRingSize + 1 : 1;
  for (uint64_t s = first; s <= records_; ++s) out.push_back(ring_[s % kRingSize]);
  return out;
}

std::string Communicator::describe_recent() const {
  std::string out;
  auto ops    = recent_ops();
  size_t from = ops.size() > 8 ? ops.size() - 8 : 0;  // the last few are what a reader needs
  for (size_t i = from; i < ops.size(); ++i)
    out += fmt::format("\n    {} [{}]", describe_call(ops[i].call), op_state_name(ops[i].state));
  return out.empty() ? "\n    (no calls yet)" : out;
}

bool Communicator::stuck_op(std::chrono::steady_clock::duration limit, OpRecord* out) const {
  auto now = std::chrono::steady_clock::now();
  std::lock_guard<std::mutex> lock(ring_mutex_);
  bool found = false;
  for (int i = 0; i < kRingSize; ++i) {
    const OpRecord& r = ring_[i];
    if (ring_stamp_[i] == 0 || r.state != OpState::kRunning || now - r.started < limit) continue;
    if (!found || r.started < out->started) *out = r;
    found = true;
  }
  return found;
}

// ---- blocking forms ----

void Communicator::all_reduce(float* data, int64_t count, ReduceOp op) {
  CommCall c = make_call(CommOp::kAllReduce);
  c.output = data, c.count = count, c.reduce = op;
  blocking(c);
}
void Communicator::reduce_scatter(float* out, const float* in, int64_t out_count, ReduceOp op) {
  CommCall c = make_call(CommOp::kReduceScatter);
  c.output = out, c.input = in, c.count = out_count, c.reduce = op;
  blocking(c);
}
void Communicator::all_gather(float* out, const float* in, int64_t in_count) {
  CommCall c = make_call(CommOp::kAllGather);
  c.output = out, c.input = in, c.count = in_count;
  blocking(c);
}
void Communicator::broadcast(float* data, int64_t count, int root) {
  CommCall c = make_call(CommOp::kBroadcast);
  c.output = data, c.count = count, c.peer = root;
  blocking(c);
}
void Communicator::all_to_all(float* out, const float* in, int64_t count_per_peer) {
  CommCall c = make_call(CommOp::kAllToAll);
  c.output = out, c.input = in, c.count = count_per_peer;
  blocking(c);
}
void Communicator::barrier() {
  blocking(make_call(CommOp::kBarrier));
}
void Communicator::send(const float* data, int64_t count, int peer, int tag) {
  CommCall c = make_call(CommOp::kSend);
  c.input = data, c.count = count, c.peer = peer, c.tag = tag;
  blocking(c);
}
void Communicator::recv(float* data, int64_t count, int peer, int tag) {
  CommCall c = make_call(CommOp::kRecv);
  c.output = data, c.count = count, c.peer = peer, c.tag = tag;
  blocking(c);
}
void Communicator::send_recv(const float* send_data, int64_t send_count, int to, float* recv_data,
                             int64_t recv_count, int from, int tag) {
  Work s = send_async(send_data, send_count, to, tag);
  Work r = recv_async(recv_data, recv_count, from, tag);
  // Wait for both even if one fails, so no buffer is still in use when we leave.
  std::exception_ptr first;
  for (Work* w : {&r, &s}) {
    try {
      w->wait();
    } catch (...) {
      if (!first) first = std::current_exception();
    }
  }
  if (first) std::rethrow_exception(first);
}

std::unique_ptr<Communicator> Communicator::split(int color, int key) {
  CommCall c = make_call(CommOp::kSplit);
  c.color = color, c.key = key;
  c           = prepare(c);
  RingRef ref = record(c, OpState::kRunning);
  set_state(ref, OpState::kRunning);
  try {
    auto sub = run_split(c);
    set_state(ref, OpState::kDone);
    return sub;
  } catch (...) {
    set_state(ref, OpState::kFailed);
    throw;
  }
}

// ---- asynchronous forms ----

Work Communicator::all_reduce_async(float* data, int64_t count, ReduceOp op) {
  CommCall c = make_call(CommOp::kAllReduce);
  c.output = data, c.count = count, c.reduce = op;
  return async(c);
}
Work Communicator::reduce_scatter_async(float* out, const float* in, int64_t out_count, ReduceOp op) {
  CommCall c = make_call(CommOp::kReduceScatter);
  c.output = out, c.input = in, c.count = out_count, c.reduce = op;
  return async(c);
}
Work Communicator::all_gather_async(float* out, const float* in, int64_t in_count) {
  CommCall c = make_call(CommOp::kAllGather);
  c.output = out, c.input = in, c.count = in_count;
  return async(c);
}
Work Communicator::broadcast_async(float* data, int64_t count, int root) {
  CommCall c = make_call(CommOp::kBroadcast);
  c.output = data, c.count = count, c.peer = root;
  return async(c);
}
Work Communicator::all_to_all_async(float* out, const float* in, int64_t count_per_peer) {
  CommCall c = make_call(CommOp::kAllToAll);
  c.output = out, c.input = in, c.count = count_per_peer;
  return async(c);
}
Work Communicator::barrier_async() {
  return async(make_call(CommOp::kBarrier));
}
Work Communicator::send_async(const float* data, int64_t count, int peer, int tag) {
  CommCall c = make_call(CommOp::kSend);
  c.input = data, c.count = count, c.peer = peer, c.tag = tag;
  return async(c);
}
Work Communicator::recv_async(float* data, int64_t count, int peer, int tag) {
  CommCall c = make_call(CommOp::kRecv);
  c.output = data, c.count = count, c.peer = peer, c.tag = tag;
  return async(c);
}

// ---- Tensor overloads ----

namespace {
void check_f32(const Tensor& t, const char* op, const char* what) {
  PX_USER_CHECK(t.defined(), "{}: {} tensor is undefined", op, what);
  PX_USER_CHECK(t.dtype() == DType::kF32, "{}: {} tensor is {}, collectives move float32 tensors", op, what,
                dtype_name(t.dtype()));
}
}  // namespace

void Communicator::all_reduce(Tensor& t, ReduceOp op) {
  check_f32(t, "all_reduce", "the");
  all_reduce(t.data(), t.numel(), op);
}
Work Communicator::all_reduce_async(Tensor& t, ReduceOp op) {
  check_f32(t, "all_reduce", "the");
  return all_reduce_async(t.data(), t.numel(), op);
}
void Communicator::reduce_scatter(Tensor& out, const Tensor& in, ReduceOp op) {
  check_f32(out, "reduce_scatter", "output");
  check_f32(in, "reduce_scatter", "input");
  PX_USER_CHECK(in.numel() == out.numel() * size_,
                "reduce_scatter: input has {} elements, output {}; the input must hold size ({}) × output "
                "elements ({})",
                in.numel(), out.numel(), size_, out.numel() * size_);
  reduce_scatter(out.data(), in.data(), out.numel(), op);
}
void Communicator::all_gather(Tensor& out, const Tensor& in) {
  check_f32(out, "all_gather", "output");
  check_f32(in, "all_gather", "input");
  PX_USER_CHECK(
      out.numel() == in.numel() * size_,
      "all_gather: output has {} elements, input {}; the output must hold size ({}) × input elements "
      "({})",
      out.numel(), in.numel(), size_, in.numel() * size_);
  all_gather(out.data(), in.data(), in.numel());
}
void Communicator::broadcast(Tensor& t, int root) {
  check_f32(t, "broadcast", "the");
  broadcast(t.data(), t.numel(), root);
}
void Communicator::all_to_all(Tensor& out, const Tensor& in) {
  check_f32(out, "all_to_all", "output");
  check_f32(in, "all_to_all", "input");
  PX_USER_CHECK(
      out.numel() == in.numel() && in.numel() % size_ == 0,
      "all_to_all: input has {} and output {} elements; both must be equal and divisible by size {}",
      in.numel(), out.numel(), size_);
  all_to_all(out.data(), in.data(), in.numel() / size_);
}
void Communicator::send(const Tensor& t, int peer, int tag) {
  check_f32(t, "send", "the");
  send(t.data(), t.numel(), peer, tag);
}
void Communicator::recv(Tensor& t, int peer, int tag) {
  check_f32(t, "recv", "the");
  recv(t.data(), t.numel(), peer, tag);
}

}  // namespace paraxis
