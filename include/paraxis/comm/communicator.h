// paraxis/comm/communicator.h — the one interface every parallel axis uses to move tensors between devices.
//
//   run_devices(4, {}, [](Communicator& comm) {           // see launch.h; or run_mpi under mpirun
//     std::vector<float> g(n, float(comm.rank()));
//     comm.all_reduce(g.data(), n);                         // every device: 0+1+2+3 in each element
//     Work w = comm.all_gather_async(out, in, n);          // out (size·n) ← each device's in (n)
//     ... compute while it runs ...
//     w.wait();                                             // rethrows the operation's error, if any
//     auto tp = comm.split(comm.rank() / 2, comm.rank());  // sub-communicator of devices {0,1} or {2,3}
//   });
//
// Counts are elements per device: all_reduce/broadcast work on `count` elements in place; reduce_scatter
// reads size·count and writes count; all_gather reads count and writes size·count; all_to_all sends `count`
// elements to each peer (in and out hold size·count). Every member must call collectives in the same order;
// each call gets the communicator's next sequence number and is recorded in a ring buffer (recent_ops) so a
// stuck or mismatched call can be named. Point-to-point send is synchronous (it returns once the receiver has
// the data, like MPI_Ssend): exchange with send_async + recv, or send_recv.
//
// Backends: threads (devices are threads of this process, shared memory) and mpi (one process per device).
// Both run behind this class; the checks, sequence numbers and trace live here, the data movement in the
// backend's hooks.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "paraxis/core/tensor.h"

namespace paraxis {

enum class ReduceOp : uint8_t { kSum, kAverage, kMax };
const char* reduce_op_name(ReduceOp op);

enum class CommOp : uint8_t {
  kAllReduce,
  kReduceScatter,
  kAllGather,
  kBroadcast,
  kAllToAll,
  kBarrier,
  kSplit,
  kSend,
  kRecv,
};
const char* comm_op_name(CommOp op);
bool comm_op_is_collective(CommOp op);

// What one call asks for, as checked and recorded. Collectives compare these across members (same op, count,
// reduce op and root at the same sequence number).
struct CommCall {
  CommOp op          = CommOp::kBarrier;
  ReduceOp reduce    = ReduceOp::kSum;
  const float* input = nullptr;  // reduce_scatter, all_gather, all_to_all, send
  float* output      = nullptr;  // all_reduce, broadcast (in place), the others' results, recv
  int64_t count      = 0;        // elements per device, as documented above
  int peer           = -1;       // root of broadcast, peer of send/recv
  int tag            = 0;        // send/recv
  int color          = 0;        // split
  int key            = 0;        // split
  uint64_t seq       = 0;        // collectives: sequence number on this communicator; p2p: its own counter
};
std::string describe_call(const CommCall& c);  // "all_reduce #3 (1024 floats, sum)"

enum class OpState : uint8_t { kQueued, kRunning, kDone, kFailed };
const char* op_state_name(OpState s);

// One ring-buffer entry (op, bytes, peer, state).
struct OpRecord {
  CommCall call;
  OpState state = OpState::kQueued;
  std::chrono::steady_clock::time_point started;  // when it began to run (or was issued, for async MPI)
};

// A handle on an asynchronous operation. wait() blocks until it finished and rethrows its error; done() does
// not block. A default-constructed Work is already done.
class Work {
 public:
  struct State {
    virtual ~State()    = default;
    virtual void wait() = 0;
    virtual bool test() = 0;  // true once finished (error or not); may progress the operation
  };
  Work() = default;
  explicit Work(std::shared_ptr<State> s) : state_(std::move(s)) {}
  void wait();
  bool done();

 private:
  std::shared_ptr<State> state_;
};

class Communicator {
 public:
  virtual ~Communicator()                      = default;
  Communicator(const Communicator&)            = delete;
  Communicator& operator=(const Communicator&) = delete;

  int rank() const { return rank_; }
  int size() const { return size_; }
  const std::string& name() const { return name_; }  // "world", "world/split(1)" …
  virtual const char* backend() const = 0;           // "threads" or "mpi"

  // Blocking forms.
  void all_reduce(float* data, int64_t count, ReduceOp op = ReduceOp::kSum);
  void reduce_scatter(float* out, const float* in, int64_t out_count, ReduceOp op = ReduceOp::kSum);
  void all_gather(float* out, const float* in, int64_t in_count);
  void broadcast(float* data, int64_t count, int root);
  void all_to_all(float* out, const float* in, int64_t count_per_peer);
  void barrier();
  void send(const float* data, int64_t count, int peer, int tag = 0);
  void recv(float* data, int64_t count, int peer, int tag = 0);
  // Sends to `to` and receives from `from` at once (no deadlock in a ring).
  void send_recv(const float* send_data, int64_t send_count, int to, float* recv_data, int64_t recv_count,
                 int from, int tag = 0);

  // Asynchronous forms: buffers must stay alive and untouched until the Work is done.
  Work all_reduce_async(float* data, int64_t count, ReduceOp op = ReduceOp::kSum);
  Work reduce_scatter_async(float* out, const float* in, int64_t out_count, ReduceOp op = ReduceOp::kSum);
  Work all_gather_async(float* out, const float* in, int64_t in_count);
  Work broadcast_async(float* data, int64_t count, int root);
  Work all_to_all_async(float* out, const float* in, int64_t count_per_peer);
  Work barrier_async();
  Work send_async(const float* data, int64_t count, int peer, int tag = 0);
  Work recv_async(float* data, int64_t count, int peer, int tag = 0);

  // Tensor overloads (float32, contiguous): the counts come from numel and are checked against size().
  void all_reduce(Tensor& t, ReduceOp op = ReduceOp::kSum);
  void reduce_scatter(Tensor& out, const Tensor& in, ReduceOp op = ReduceOp::kSum);
  void all_gather(Tensor& out, const Tensor& in);
  void broadcast(Tensor& t, int root);
  void all_to_all(Tensor& out, const Tensor& in);
  void send(const Tensor& t, int peer, int tag = 0);
  void recv(Tensor& t, int peer, int tag = 0);
  Work all_reduce_async(Tensor& t, ReduceOp op = ReduceOp::kSum);

  // Members with the same color form a new communicator, ranked by (key, rank). color < 0: not a member of
  // any, returns nullptr. Collective over this communicator.
  std::unique_ptr<Communicator> split(int color, int key);

  // Sequence number the next collective gets (= collectives issued so far).
  uint64_t next_seq() const;
  std::vector<OpRecord> recent_ops() const;  // oldest first, at most kRingSize
  std::string describe_recent() const;       // one line per recent op, for error messages
  static constexpr int kRingSize = 64;

  // True once the group was aborted (a device failed, the watchdog fired): every later call throws.
  virtual bool aborted() const = 0;
  virtual std::string abort_reason() const { return "aborted"; }  // "aborted because device 1 failed: …"

  // Check mode: members exchange each collective's description first and fail on a mismatch. The threads
  // backend always compares (it reads peers' buffers, so a count mismatch must never go unnoticed); on MPI
  // this costs one small all-gather per collective.
  void set_check(bool on) { check_ = on; }

  // Called on the calling thread after every blocking call this communicator ran, with the call and its
  // begin and end (steady_clock, ns): the engine records the tensor-parallel collectives inside a layer's
  // pass as trace events this way. Empty (the default): nothing is called.
  using BlockingObserver = std::function<void(const CommCall&, int64_t begin_ns, int64_t end_ns)>;
  void set_blocking_observer(BlockingObserver f) { observer_ = std::move(f); }
  bool check() const { return check_; }

  // The in-flight record, if any op has run longer than `limit`: for the watchdog.
  bool stuck_op(std::chrono::steady_clock::duration limit, OpRecord* out) const;

 protected:
  Communicator(int rank, int size, std::string name);

  struct RingRef {  // one ring-buffer record
    int slot       = 0;
    uint64_t stamp = 0;
  };

  // Backend hooks. run_* execute a validated call; the front end records begin/end around them.
  virtual void run(const CommCall& c)                                = 0;
  virtual Work run_async(const CommCall& c, RingRef ref)             = 0;
  virtual std::unique_ptr<Communicator> run_split(const CommCall& c) = 0;

  // Ring-buffer bookkeeping, thread-safe (the watchdog reads it from its own thread). A RingRef names one
  // record; once the ring wrapped past it, updates to it are dropped.
  RingRef record(const CommCall& c, OpState state);
  void set_state(RingRef ref, OpState state);

  // Runs c with bookkeeping, on whatever thread calls it (the backends' async paths use it).
  void run_recorded(const CommCall& c, RingRef ref);

 private:
  CommCall make_call(CommOp op) const;
  CommCall prepare(CommCall c);  // validates, assigns the sequence number
  void blocking(CommCall c);
  Work async(CommCall c);

  int rank_;
  int size_;
  std::string name_;
  bool check_ = false;
  BlockingObserver observer_;

  mutable std::mutex ring_mutex_;
  OpRecord ring_[kRingSize];
  uint64_t ring_stamp_[kRingSize] = {};  // which record (1-based count) occupies a slot
  uint64_t records_               = 0;
  uint64_t coll_seq_              = 0;
  uint64_t p2p_seq_               = 0;
};

}  // namespace paraxis
