// The mpi backend under mpirun (ctest label `mpi`, see tests.cmake). One program, one scenario per argument:
//
//   mpirun -np 4 paraxis_mpi_comm_test closed-form   every op × sizes {0, 1, 7, 1M+3}: closed-form results
//   mpirun -np 4 paraxis_mpi_comm_test vs-threads    MPI results equal the threads backend's on the same
//   inputs mpirun -np 2 paraxis_mpi_comm_test throw         rank 1 throws mid-collective: job aborts with the
//   cause mpirun -np 2 paraxis_mpi_comm_test watchdog      rank 1 is late to an all-reduce: the watchdog
//   names it mpirun -np 2 paraxis_mpi_comm_test check         mismatched counts: check mode names both calls
//
// Exit code 0 and "all checks passed" on success; the failure scenarios are judged by their output.
#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <string>
#include <thread>

#include "comm/collective_checks.h"
#include "paraxis/comm/launch.h"
#include "paraxis/core/error.h"
#include "paraxis/core/rng.h"

using namespace paraxis;

namespace {

void closed_form(Communicator& comm) {
  for (int64_t count : {0, 1, 7, (1 << 20) + 3}) {
    auto failures = testing::check_every_op(comm, count);
    PX_CHECK(failures.empty(), "count {}: {}", count, fmt::join(failures, "; "));
  }
  auto sub = comm.split(comm.rank() % 2, -comm.rank());
  float x  = static_cast<float>(comm.rank());
  sub->all_reduce(&x, 1);
  float want = 0;
  for (int r = comm.rank() % 2; r < comm.size(); r += 2) want += static_cast<float>(r);
  PX_CHECK(x == want, "split all_reduce gave {}, expected {}", x, want);
}

// Inputs of device r for one op: integers (exact in any order) or fractions (compared to fp32 rounding).
std::vector<float> input_of(int r, int64_t n, bool integers) {
  Philox rng(1234, static_cast<uint64_t>(r));
  std::vector<float> v(n);
  for (int64_t i = 0; i < n; ++i)
    v[i] = integers ? static_cast<float>(static_cast<int>(rng.u32(i) % 2001) - 1000) : rng.normal(i);
  return v;
}

// Runs the same ops on `comm`, returning every output concatenated.
std::vector<float> run_ops(Communicator& comm, int64_t count, bool integers) {
  const int n = comm.size(), r = comm.rank();
  std::vector<float> all;
  auto append = [&](const std::vector<float>& v) { all.insert(all.end(), v.begin(), v.end()); };
  for (ReduceOp op : {ReduceOp::kSum, ReduceOp::kAverage, ReduceOp::kMax}) {
    auto a = input_of(r, count, integers);
    comm.all_reduce(a.data(), count, op);
    append(a);
    auto in = input_of(r, n * count, integers);
    std::vector<float> out(count);
    comm.reduce_scatter(out.data(), in.data(), count, op);
    append(out);
  }
  auto a = input_of(r, count, integers);
  std::vector<float> gathered(n * count), exchanged(n * count);
  comm.all_gather(gathered.data(), a.data(), count);
  append(gathered);
  auto in = input_of(r, n * count, integers);
  comm.all_to_all(exchanged.data(), in.data(), count);
  append(exchanged);
  comm.broadcast(a.data(), count, n / 2);
  append(a);
  return all;
}

void vs_threads(Communicator& comm) {
  const int n = comm.size(), r = comm.rank();
  for (bool integers : {true, false}) {
    for (int64_t count : {1, 7, 20011}) {
      auto mine = run_ops(comm, count, integers);
      std::vector<float> from_threads;
      DeviceOptions opt;
      opt.pin = false;
      run_devices(n, opt, [&](Communicator& dev) {
        auto out = run_ops(dev, count, integers);
        if (dev.rank() == r) from_threads = out;
      });
      PX_CHECK(mine.size() == from_threads.size(), "output sizes differ");
      int64_t differ = 0;
      double worst   = 0;
      for (size_t i = 0; i < mine.size(); ++i) {
        const double d = std::fabs(static_cast<double>(mine[i]) - from_threads[i]);
        if (d > 0) ++differ;
        worst = std::max(worst, d / (1.0 + std::fabs(from_threads[i])));
      }
      // Integers are exact in any summation order; fractions may differ by MPI's order: fp32 rounding.
      PX_CHECK(integers ? differ == 0 : worst < 1e-5,
               "count {} ({}): {} of {} values differ from the threads backend, worst relative {}", count,
               integers ? "integers" : "fractions", differ, mine.size(), worst);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "closed-form";
  DeviceOptions opt;
  opt.pin = false;
  if (mode == "watchdog") opt.comm_timeout_s = 1;
  if (mode == "check") opt.check = true;
  run_mpi(opt, [&](Communicator& comm) {
    if (mode == "closed-form") closed_form(comm);
    if (mode == "vs-threads") vs_threads(comm);
    if (mode == "throw") {
      std::vector<float> g(1 << 16, 1.0f);
      comm.all_reduce(g.data(), g.size());
      if (comm.rank() == 1) PX_FAIL("injected failure in layer fc1");
      comm.all_reduce(g.data(), g.size());  // the others wait here until the job is aborted
    }
    if (mode == "watchdog") {
      float x = 1;
      comm.all_reduce(&x, 1);
      if (comm.rank() == 1) std::this_thread::sleep_for(std::chrono::seconds(30));  // killed long before
      comm.all_reduce(&x, 1, ReduceOp::kMax);  // (a broadcast's root would not wait: MPI sends eagerly)
    }
    if (mode == "check") {
      std::vector<float> x(16, 1.0f);
      comm.all_reduce(x.data(), comm.rank() == 0 ? 8 : 16);
    }
    comm.barrier();
    if (comm.rank() == 0) fmt::print("{}: all checks passed on {} ranks\n", mode, comm.size());
  });
  return 0;
}
