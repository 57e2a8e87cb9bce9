#include "comm/mpi/mpi_comm.h"

#include <algorithm>
#include <climits>
#include <condition_variable>
#include <cstring>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "comm/reduce_kernels.h"
#include "paraxis/core/error.h"

namespace paraxis::comm_detail {

void mpi_check(int rc, const char* what) {
  if (rc == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, text, &len);
  PX_FAIL("{} failed: {} (MPI error {})", what, std::string(text, len), rc);
}

namespace {

// Live communicators, for the watchdog.
std::mutex g_registry_mutex;
std::vector<MpiCommunicator*> g_registry;

MPI_Op mpi_op(ReduceOp op) {
  return op == ReduceOp::kMax ? MPI_MAX : MPI_SUM;
}

int as_int(int64_t count, int members, const CommCall& c) {
  PX_USER_CHECK(count * members <= INT_MAX,
                "{}: {} floats per rank × {} ranks exceeds MPI's int count ({}); "
                "split the buffer into smaller calls",
                describe_call(c), count, members, INT_MAX);
  return static_cast<int>(count);
}

// What a call needs done after MPI finished it: average, copy back from a temporary, check a received count.
struct Pending {
  std::vector<float> temp;
  std::function<void(MPI_Status&)> finish;
};

Pending prepare_call(const CommCall& c, int rank, int size, const float** in, float** out) {
  Pending p;
  *in  = c.input;
  *out = c.output;
  if (c.op == CommOp::kReduceScatter && c.count > 0 && c.output == c.input + rank * c.count) {
    // MPI forbids aliased buffers here; reduce into a temporary and copy back.
    p.temp.resize(c.count);
    *out = p.temp.data();
  }
  float* temp_out = *out;
  p.finish        = [c, size, temp_out](MPI_Status& status) {
    if (c.op == CommOp::kReduceScatter && temp_out != c.output && c.count > 0)
      std::memcpy(c.output, temp_out, c.count * sizeof(float));
    if (c.op == CommOp::kAllReduce || c.op == CommOp::kReduceScatter)
      finish_average(c.output, c.count, size, c.reduce);
    if (c.op == CommOp::kRecv) {
      int got = 0;
      MPI_Get_count(&status, MPI_FLOAT, &got);
      PX_CHECK(got == c.count, "{}: received {} floats, expected {}; both sides must pass the same count",
                      describe_call(c), got, c.count);
    }
  };
  return p;
}

// Issues c; with `request` null it blocks, else it starts the nonblocking form.
void issue(const CommCall& c, MPI_Comm comm, int rank, int size, const float* in, float* out,
           MPI_Request* request, MPI_Status* status) {
  const int n = as_int(
      c.count,
      c.op == CommOp::kAllGather || c.op == CommOp::kAllToAll || c.op == CommOp::kReduceScatter ? size : 1,
      c);
  void* inplace = MPI_IN_PLACE;
  switch (c.op) {
    case CommOp::kAllReduce:
      if (request)
        return mpi_check(MPI_Iallreduce(inplace, out, n, MPI_FLOAT, mpi_op(c.reduce), comm, request),
                         "MPI_Iallreduce");
      return mpi_check(MPI_Allreduce(inplace, out, n, MPI_FLOAT, mpi_op(c.reduce), comm), "MPI_Allreduce");
    case CommOp::kReduceScatter:
      if (request)
        return mpi_check(MPI_Ireduce_scatter_block(in, out, n, MPI_FLOAT, mpi_op(c.reduce), comm, request),
                         "MPI_Ireduce_scatter_block");
      return mpi_check(MPI_Reduce_scatter_block(in, out, n, MPI_FLOAT, mpi_op(c.reduce), comm),
                       "MPI_Reduce_scatter_block");
    case CommOp::kAllGather: {
      const void* send = (in == out + rank * c.count) ? inplace : in;
      if (request)
        return mpi_check(MPI_Iallgather(send, n, MPI_FLOAT, out, n, MPI_FLOAT, comm, request),
                         "MPI_Iallgather");
      return mpi_check(MPI_Allgather(send, n, MPI_FLOAT, out, n, MPI_FLOAT, comm), "MPI_Allgather");
    }
    case CommOp::kBroadcast:
      if (request) return mpi_check(MPI_Ibcast(out, n, MPI_FLOAT, c.peer, comm, request), "MPI_Ibcast");
      return mpi_check(MPI_Bcast(out, n, MPI_FLOAT, c.peer, comm), "MPI_Bcast");
    case CommOp::kAllToAll:
      if (request)
        return mpi_check(MPI_Ialltoall(in, n, MPI_FLOAT, out, n, MPI_FLOAT, comm, request), "MPI_Ialltoall");
      return mpi_check(MPI_Alltoall(in, n, MPI_FLOAT, out, n, MPI_FLOAT, comm), "MPI_Alltoall");
    case CommOp::kBarrier:
      if (request) return mpi_check(MPI_Ibarrier(comm, request), "MPI_Ibarrier");
      return mpi_check(MPI_Barrier(comm), "MPI_Barrier");
    case CommOp::kSend:
      if (request) return mpi_check(MPI_Isend(in, n, MPI_FLOAT, c.peer, c.tag, comm, request), "MPI_Isend");
      return mpi_check(MPI_Send(in, n, MPI_FLOAT, c.peer, c.tag, comm), "MPI_Send");
    case CommOp::kRecv:
      if (request) return mpi_check(MPI_Irecv(out, n, MPI_FLOAT, c.peer, c.tag, comm, request), "MPI_Irecv");
      return mpi_check(MPI_Recv(out, n, MPI_FLOAT, c.peer, c.tag, comm, status), "MPI_Recv");
    default:
      PX_FAIL("mpi backend: unexpected call {}", describe_call(c));
  }
}

class MpiWork : public Work::State {
 public:
  MpiWork(CommCall call, Pending pending, std::function<void(OpState)> set_state)
      : call_(call), pending_(std::move(pending)), set_state_(std::move(set_state)) {}
  MPI_Request* request() { return &request_; }

  void wait() override {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!finished_) {
      MPI_Status status;
      complete(MPI_Wait(&request_, &status), status);
    }
    if (error_) std::rethrow_exception(error_);
  }
  bool test() override {
    std::lock_guard<std::mutex> lock(mutex_);
    if (finished_) return true;
    int flag = 0;
    MPI_Status status;
    int rc = MPI_Test(&request_, &flag, &status);
    if (rc != MPI_SUCCESS || flag) complete(rc, status);
    return finished_;
  }

 private:
  void complete(int rc, MPI_Status& status) {
    finished_ = true;
    try {
      mpi_check(rc, comm_op_name(call_.op));
      pending_.finish(status);
      set_state_(OpState::kDone);
    } catch (...) {
      error_ = std::current_exception();
      set_state_(OpState::kFailed);
    }
  }

  std::mutex mutex_;
  CommCall call_;
  Pending pending_;
  std::function<void(OpState)> set_state_;
  MPI_Request request_ = MPI_REQUEST_NULL;
  bool finished_       = false;
  std::exception_ptr error_;
};

}  // namespace

MpiCommunicator::MpiCommunicator(MPI_Comm comm, std::string name)
    : Communicator(
          [&] {
            int r = 0;
            MPI_Comm_rank(comm, &r);
            return r;
          }(),
          [&] {
            int s = 1;
            MPI_Comm_size(comm, &s);
            return s;
          }(),
          std::move(name)),
      comm_(comm) {
  mpi_check(MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler");
  std::lock_guard<std::mutex> lock(g_registry_mutex);
  g_registry.push_back(this);
}

MpiCommunicator::~MpiCommunicator() {
  {
    std::lock_guard<std::mutex> lock(g_registry_mutex);
    g_registry.erase(std::find(g_registry.begin(), g_registry.end(), this));
  }
  if (comm_ != MPI_COMM_WORLD) MPI_Comm_free(&comm_);
}

void MpiCommunicator::check_same_call(const CommCall& c) {
  // (op, count, reduce op, root, sequence number) of every member.
  int64_t mine[5] = {static_cast<int64_t>(c.op), c.count, static_cast<int64_t>(c.reduce), c.peer,
                     static_cast<int64_t>(c.seq)};
  std::vector<int64_t> all(5 * size());
  mpi_check(MPI_Allgather(mine, 5, MPI_INT64_T, all.data(), 5, MPI_INT64_T, comm_),
            "MPI_Allgather (check mode)");
  bool same = true;
  for (int m = 1; m < size(); ++m)
    same = same && std::equal(all.begin(), all.begin() + 5, all.begin() + 5 * m);
  if (same) return;
  std::string calls;
  for (int m = 0; m < size(); ++m) {
    CommCall other;
    other.op     = static_cast<CommOp>(all[5 * m]);
    other.count  = all[5 * m + 1];
    other.reduce = static_cast<ReduceOp>(all[5 * m + 2]);
    other.peer   = static_cast<int>(all[5 * m + 3]);
    other.seq    = static_cast<uint64_t>(all[5 * m + 4]);
    calls += fmt::format("\n  rank {} called {}", m, describe_call(other));
  }
  PX_FAIL(
      "collective mismatch on {} (check mode): members called different collectives at the same point:{}\n"
      "Every member must call the same collectives, with the same counts, in the same order.",
      name(), calls);
}

void MpiCommunicator::run(const CommCall& c) {
  if (check() && comm_op_is_collective(c.op)) check_same_call(c);
  const float* in = nullptr;
  float* out      = nullptr;
  Pending pending = prepare_call(c, rank(), size(), &in, &out);
  MPI_Status status;
  issue(c, comm_, rank(), size(), in, out, nullptr, &status);
  pending.finish(status);
}

Work MpiCommunicator::run_async(const CommCall& c, RingRef ref) {
  if (check() && comm_op_is_collective(c.op)) check_same_call(c);
  const float* in = nullptr;
  float* out      = nullptr;
  Pending pending = prepare_call(c, rank(), size(), &in, &out);
  auto work = std::make_shared<MpiWork>(c, std::move(pending), [this, ref](OpState s) { set_state(ref, s); });
  set_state(ref, OpState::kRunning);
  try {
    issue(c, comm_, rank(), size(), in, out, work->request(), nullptr);
  } catch (...) {
    set_state(ref, OpState::kFailed);
    throw;
  }
  return Work(work);
}

std::unique_ptr<Communicator> MpiCommunicator::run_split(const CommCall& c) {
  if (check()) check_same_call(c);
  MPI_Comm sub = MPI_COMM_NULL;
  mpi_check(MPI_Comm_split(comm_, c.color < 0 ? MPI_UNDEFINED : c.color, c.key, &sub), "MPI_Comm_split");
  if (sub == MPI_COMM_NULL) return nullptr;
  return std::make_unique<MpiCommunicator>(sub, fmt::format("{}/split({})", name(), c.color));
}

MPI_Comm mpi_handle(Communicator& comm) {
  auto* m = dynamic_cast<MpiCommunicator*>(&comm);
  PX_CHECK(m != nullptr, "communicator {} is of the {} backend, not mpi", comm.name(), comm.backend());
  return m->handle();
}

// ---- watchdog ----

namespace {
std::mutex g_watchdog_mutex;
std::condition_variable g_watchdog_cv;
bool g_watchdog_stop = false;
std::thread g_watchdog;

void watchdog_loop(double timeout_s) {
  using namespace std::chrono;
  const auto limit = duration_cast<steady_clock::duration>(duration<double>(timeout_s));
  const auto poll  = std::clamp(duration_cast<milliseconds>(limit / 4), milliseconds(5), milliseconds(1000));
  std::unique_lock<std::mutex> lock(g_watchdog_mutex);
  while (!g_watchdog_stop) {
    g_watchdog_cv.wait_for(lock, poll, [] { return g_watchdog_stop; });
    if (g_watchdog_stop) break;
    std::lock_guard<std::mutex> registry(g_registry_mutex);
    for (MpiCommunicator* c : g_registry) {
      OpRecord r;
      if (!c->stuck_op(limit, &r)) continue;
      int world_rank = 0;
      MPI_Comm_rank(MPI_COMM_WORLD, &world_rank);
      // Over MPI a stuck rank cannot ask the others where they are; each stuck rank prints its own line, and
      // a rank missing from these lines is one that never reached a collective.
      fmt::print(
          stderr,
          "paraxis: [rank {}] comm watchdog: waited more than {} s (--comm-timeout) in {} on {} (rank {} "
          "of {}); the other ranks did not all arrive. Every member must call the collectives of a "
          "communicator in the same order. Recent calls of this rank:{}\n",
          world_rank, timeout_s, describe_call(r.call), c->name(), c->rank(), c->size(),
          c->describe_recent());
      std::fflush(stderr);
      MPI_Abort(MPI_COMM_WORLD, 1);
    }
  }
}
}  // namespace

void mpi_watchdog_start(double timeout_s) {
  if (timeout_s <= 0) return;
  g_watchdog_stop = false;
  g_watchdog      = std::thread(watchdog_loop, timeout_s);
}

void mpi_watchdog_stop() {
  {
    std::lock_guard<std::mutex> lock(g_watchdog_mutex);
    g_watchdog_stop = true;
  }
  g_watchdog_cv.notify_all();
  if (g_watchdog.joinable()) g_watchdog.join();
}

}  // namespace paraxis::comm_detail
