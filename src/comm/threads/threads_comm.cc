// NOTE [threads collectives] Devices share memory, so after one barrier every member can read every other
// member's posted buffers directly: no staging copies. Large all-reduce is reduce-scatter + all-gather in
// place: member r reduces chunk r of all buffers into its own buffer (only r touches chunk r, so no race),
// a barrier, then each member copies the other chunks from their owners, and a closing barrier keeps every
// buffer untouched until all copies are done. Per member that is ~1.5·S read and S written, the least an
// in-place all-reduce can move. Small messages (latency-bound) reduce everything into a private scratch and
// need one barrier less.
#include "comm/threads/threads_comm.h"

#include <algorithm>
#include <cstring>
#include <map>

#include "comm/reduce_kernels.h"
#include "comm/work_state.h"
#include "paraxis/core/error.h"

namespace paraxis::comm_detail {

namespace {
constexpr int64_t kSmallAllReduceBytes               = 64 * 1024;
thread_local const ThreadsCommunicator* tl_worker_of = nullptr;

void copy_floats(float* dst, const float* src, int64_t n) {
  if (n > 0 && dst != src) std::memcpy(dst, src, n * sizeof(float));
}
}  // namespace

ThreadsCommunicator::ThreadsCommunicator(std::shared_ptr<ThreadGroup> group, int rank)
    : Communicator(rank, group->size(), group->name()), group_(std::move(group)) {
  group_->domain().add(this);
}

ThreadsCommunicator::~ThreadsCommunicator() {
  {
    std::lock_guard<std::mutex> lock(queue_mutex_);
    stop_ = true;
  }
  queue_cv_.notify_all();
  if (worker_.joinable()) worker_.join();
  group_->domain().remove(this);
}

void ThreadsCommunicator::run(const CommCall& c) {
  if (c.op == CommOp::kSend || c.op == CommOp::kRecv) return point_to_point(c);
  if (tl_worker_of != this) drain();
  switch (c.op) {
    case CommOp::kAllReduce:
      return all_reduce(c);
    case CommOp::kReduceScatter:
      return reduce_scatter(c);
    case CommOp::kAllGather:
      return all_gather(c);
    case CommOp::kBroadcast:
      return broadcast(c);
    case CommOp::kAllToAll:
      return all_to_all(c);
    case CommOp::kBarrier:
      if (size() > 1) group_->arrive(rank(), c);
      return;
    default:
      PX_FAIL("threads backend: unexpected call {}", describe_call(c));
  }
}

void ThreadsCommunicator::all_reduce(const CommCall& c) {
  const int n = size(), r = rank();
  if (n == 1) return;  // sum, average and max of one value are the value
  float* data = c.output;
  group_->arrive(r, c);
  std::vector<const float*> ins(n);
  if (c.count * static_cast<int64_t>(sizeof(float)) <= kSmallAllReduceBytes) {
    for (int j = 0; j < n; ++j) ins[j] = group_->posted(j, c.seq).output;
    scratch_.resize(c.count);
    reduce_buffers(scratch_.data(), ins.data(), n, c.count, c.reduce);
    group_->barrier(r, c);  // every member has read every buffer
    copy_floats(data, scratch_.data(), c.count);
    return;
  }
  // Chunks of whole cache lines, so no two members write the same line.
  const int64_t per   = (c.count + n - 1) / n;
  const int64_t chunk = (per + 15) / 16 * 16;
  auto begin          = [&](int j) { return std::min<int64_t>(c.count, j * chunk); };
  auto end            = [&](int j) { return std::min<int64_t>(c.count, (j + 1) * chunk); };
  for (int j = 0; j < n; ++j) ins[j] = group_->posted(j, c.seq).output + begin(r);
  reduce_buffers(data + begin(r), ins.data(), n, end(r) - begin(r), c.reduce);
  group_->barrier(r, c);  // every chunk is reduced in its owner's buffer
  for (int j = 0; j < n; ++j)
    if (j != r) copy_floats(data + begin(j), group_->posted(j, c.seq).output + begin(j), end(j) - begin(j));
  group_->barrier(r, c);  // nobody changes its buffer before the others copied from it
}

void ThreadsCommunicator::reduce_scatter(const CommCall& c) {
  const int n = size(), r = rank();
  if (n == 1) return copy_floats(c.output, c.input, c.count);
  group_->arrive(r, c);
  std::vector<const float*> ins(n);
  for (int j = 0; j < n; ++j) ins[j] = group_->posted(j, c.seq).input + r * c.count;
  reduce_buffers(c.output, ins.data(), n, c.count, c.reduce);
  group_->barrier(r, c);
}

void ThreadsCommunicator::all_gather(const CommCall& c) {
  const int n = size(), r = rank();
  if (n == 1) return copy_floats(c.output, c.input, c.count);
  group_->arrive(r, c);
  for (int j = 0; j < n; ++j) copy_floats(c.output + j * c.count, group_->posted(j, c.seq).input, c.count);
  group_->barrier(r, c);
}

void ThreadsCommunicator::broadcast(const CommCall& c) {
  const int n = size(), r = rank();
  if (n == 1) return;
  group_->arrive(r, c);
  if (r != c.peer) copy_floats(c.output, group_->posted(c.peer, c.seq).output, c.count);
  group_->barrier(r, c);
}

void ThreadsCommunicator::all_to_all(const CommCall& c) {
  const int n = size(), r = rank();
  if (n == 1) return copy_floats(c.output, c.input, c.count);
  group_->arrive(r, c);
  for (int j = 0; j < n; ++j)
    copy_floats(c.output + j * c.count, group_->posted(j, c.seq).input + r * c.count, c.count);
  group_->barrier(r, c);
}

namespace {
std::shared_ptr<P2pRequest> make_request(const CommCall& c, int rank) {
  auto req   = std::make_shared<P2pRequest>();
  req->count = c.count;
  req->tag   = c.tag;
  if (c.op == CommOp::kSend) {
    req->send_data = c.input, req->src = rank, req->dst = c.peer;
  } else {
    req->recv_data = c.output, req->src = c.peer, req->dst = rank;
  }
  return req;
}

// Waits happen in wait(); the ring shows the call as running only while someone is blocked on it, so the
// watchdog measures blocked time, not the time a handle sat unwaited.
class P2pWork : public Work::State {
 public:
  P2pWork(ThreadsCommunicator* comm, std::shared_ptr<P2pRequest> req, CommCall call,
          std::function<void(OpState)> set_state)
      : comm_(comm), req_(std::move(req)), call_(call), set_state_(std::move(set_state)) {}
  void wait() override {
    set_state_(OpState::kRunning);
    try {
      comm_->group().wait_p2p(*req_, call_);
    } catch (...) {
      set_state_(OpState::kFailed);
      throw;
    }
    set_state_(OpState::kDone);
  }
  bool test() override { return comm_->group().p2p_finished(*req_); }

 private:
  ThreadsCommunicator* comm_;
  std::shared_ptr<P2pRequest> req_;
  CommCall call_;
  std::function<void(OpState)> set_state_;
};
}  // namespace

void ThreadsCommunicator::point_to_point(const CommCall& c) {
  auto req = make_request(c, rank());
  group_->post_p2p(req, c.op == CommOp::kSend, c);
  group_->wait_p2p(*req, c);
}

Work ThreadsCommunicator::run_async(const CommCall& c, RingRef ref) {
  if (c.op == CommOp::kSend || c.op == CommOp::kRecv) {
    auto req = make_request(c, rank());
    group_->post_p2p(req, c.op == CommOp::kSend, c);
    return Work(std::make_shared<P2pWork>(this, req, c, [this, ref](OpState s) { set_state(ref, s); }));
  }
  auto state = std::make_shared<PromiseState>();
  enqueue([this, c, ref, state] {
    try {
      run_recorded(c, ref);
      state->complete(nullptr);
    } catch (...) {
      state->complete(std::current_exception());
    }
  });
  return Work(state);
}

void ThreadsCommunicator::enqueue(std::function<void()> task) {
  std::lock_guard<std::mutex> lock(queue_mutex_);
  queue_.push_back(std::move(task));
  if (!worker_.joinable()) worker_ = std::thread([this] { worker_loop(); });
  queue_cv_.notify_all();
}

void ThreadsCommunicator::drain() {
  std::unique_lock<std::mutex> lock(queue_mutex_);
  queue_cv_.wait(lock, [&] { return queue_.empty() && !busy_; });
}

void ThreadsCommunicator::worker_loop() {
  set_current_device(device());
  tl_worker_of = this;
  std::unique_lock<std::mutex> lock(queue_mutex_);
  for (;;) {
    queue_cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stop_ and nothing left
    auto task = std::move(queue_.front());
    queue_.pop_front();
    busy_ = true;
    lock.unlock();
    task();
    lock.lock();
    busy_ = false;
    queue_cv_.notify_all();
  }
}

std::unique_ptr<Communicator> ThreadsCommunicator::run_split(const CommCall& c) {
  const int n = size(), r = rank();
  drain();
  group_->arrive(r, c);
  if (r == 0) {
    // Members of each color, ranked by (key, old rank).
    std::map<int, std::vector<std::pair<int, int>>> by_color;
    for (int m = 0; m < n; ++m) {
      const CommCall& p = group_->posted(m, c.seq);
      if (p.color >= 0) by_color[p.color].push_back({p.key, m});
    }
    group_->split_groups.assign(n, nullptr);
    group_->split_ranks.assign(n, -1);
    for (auto& [color, members] : by_color) {
      std::sort(members.begin(), members.end());
      std::vector<int> devices;
      for (auto& [key, m] : members) devices.push_back(group_->device_of(m));
      auto g = std::make_shared<ThreadGroup>(group_->domain(), devices,
                                             fmt::format("{}/split({})", name(), color));
      for (size_t i = 0; i < members.size(); ++i) {
        group_->split_groups[members[i].second] = g;
        group_->split_ranks[members[i].second]  = static_cast<int>(i);
      }
    }
  }
  group_->barrier(r, c);  // the new groups exist
  std::shared_ptr<ThreadGroup> mine = group_->split_groups[r];
  const int new_rank                = group_->split_ranks[r];
  group_->barrier(r, c);  // everyone took its group
  if (r == 0) group_->split_groups.clear();
  if (!mine) return nullptr;
  return std::make_unique<ThreadsCommunicator>(std::move(mine), new_rank);
}

}  // namespace paraxis::comm_detail
