// The trace gather (trace/merge.h) under mpirun (ctest label `mpi`, see tests.cmake). One scenario per
// argument:
//
//   mpirun -np 3 paraxis_mpi_trace_test skew    rank r's clock runs r × 7 s ahead: rank 0 measures each
//   offset
//                                               within its uncertainty and puts every event back on its clock
//   mpirun -np 2 paraxis_mpi_trace_test die     rank 1 fails instead of sending its trace: the job aborts
//   mpirun -np 2 paraxis_mpi_trace_test stall   rank 1 never arrives: the watchdog names rank 0's recv
//
// "all checks passed" on success; the failure scenarios are judged by their output.
#include <fmt/format.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>

#include "paraxis/comm/launch.h"
#include "paraxis/core/error.h"
#include "paraxis/trace/merge.h"

using namespace paraxis;

namespace {

constexpr int64_t kSkewPerRank = 7'000'000'000;
int64_t g_skew                 = 0;  // this process's clock skew (one device per process)

int64_t skewed_clock() {
  return trace::now_ns() + g_skew;
}

// One forward of 1 ms per rank, recorded on the skewed clock; returns its real begin.
trace::RankTrace record_one(int rank, int64_t* real_begin) {
  trace::RankTrace t;
  t.info      = {rank, 0, 0, rank};
  *real_begin = trace::now_ns();
  trace::Event e;
  e.kind       = trace::Kind::kForward;
  e.stage      = static_cast<int16_t>(rank);
  e.microbatch = 0;
  e.t_begin_ns = *real_begin + g_skew;
  e.t_end_ns   = e.t_begin_ns + 1'000'000;
  t.events.push_back(e);
  return t;
}

void skew(Communicator& world) {
  g_skew             = world.rank() * kSkewPerRank;
  int64_t real_begin = 0;
  auto set =
      trace::gather_trace(world, record_one(world.rank(), &real_begin), "skew", {.clock = &skewed_clock});
  // Every rank's real begin, for rank 0 to compare with the merged times (all processes share steady_clock).
  std::vector<float> begins(world.size() * 4);
  float mine[4];
  for (int k = 0; k < 4; ++k)
    mine[k] = static_cast<float>((static_cast<uint64_t>(real_begin) >> (16 * k)) & 0xffff);
  world.all_gather(begins.data(), mine, 4);
  if (!set) return;
  PX_CHECK(set->num_devices() == world.size(), "merged {} devices of {} ranks", set->num_devices(),
           world.size());
  for (int r = 0; r < world.size(); ++r) {
    uint64_t real = 0;
    for (int k = 0; k < 4; ++k) real |= static_cast<uint64_t>(begins[4 * r + k]) << (16 * k);
    const trace::ClockSync& c = set->clocks[r];
    const int64_t merged      = set->events[r][0].t_begin_ns;
    PX_CHECK(
        std::llabs(c.offset_ns - r * kSkewPerRank) <= c.uncertainty_ns && c.uncertainty_ns < 1'000'000'000,
        "rank {}: offset {} ns ± {} ns, true {} ns", r, c.offset_ns, c.uncertainty_ns, r * kSkewPerRank);
    PX_CHECK(std::llabs(merged - static_cast<int64_t>(real)) <= c.uncertainty_ns,
             "rank {}: merged begin {} ns, real {} ns, beyond ± {} ns", r, merged, real, c.uncertainty_ns);
    fmt::print("rank {}: offset {:.3f} s ± {:.1f} µs\n", r, c.offset_ns / 1e9, c.uncertainty_ns / 1e3);
  }
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "skew";
  DeviceOptions opt;
  opt.pin = false;
  if (mode == "stall") opt.comm_timeout_s = 1;
  run_mpi(opt, [&](Communicator& world) {
    if (mode == "skew") skew(world);
    if (mode == "die" || mode == "stall") {
      int64_t real = 0;
      if (world.rank() == 1 && mode == "die") PX_FAIL("injected failure in the trace gather");
      if (world.rank() == 1) std::this_thread::sleep_for(std::chrono::seconds(30));  // killed long before
      trace::gather_trace(world, record_one(world.rank(), &real), mode);
    }
    world.barrier();
    if (world.rank() == 0) fmt::print("{}: all checks passed on {} ranks\n", mode, world.size());
  });
  return 0;
}
