// paraxis/comm/launch.h — start devices and hand each its world communicator.
//
//   DeviceOptions opt;                       // 1 kernel thread per device, pinned when cores suffice
//   opt.comm_timeout_s = 60;                 // the watchdog names a call stuck this long, then aborts
//   run_devices(4, opt, [&](Communicator& world) { train_on_device(world); });   // 4 threads, this process
//
//   // the same body as one MPI process per device (mpirun -np 4 paraxis ... --backend mpi):
//   run_mpi(opt, [&](Communicator& world) { train_on_device(world); });
//
//   launch(Backend::kThreads, 4, opt, body);   // either, chosen by a flag
//
// run_devices starts n device threads; each calls set_current_device(rank) and set_kernel_threads(K) before
// the body. If a body throws, every other device is woken with "aborted because device X failed: ..." (no
// device stays blocked), all threads are joined, and the first error — the root cause — is rethrown in the
// caller. A device that returns while others still wait for it in a collective also wakes them with an error.
//
// run_mpi initialises MPI (MPI_THREAD_MULTIPLE, MPI_ERRORS_RETURN), prints where rank and size came from
// (OMPI_COMM_WORLD_* under mpirun, RANK/WORLD_SIZE/LOCAL_RANK from other launchers), runs the body as this
// process's device and finalises. If the body throws, the root cause is printed and the job aborted
// (MPI_Abort), so no rank hangs.
#pragma once

#include <functional>
#include <string>

#include "paraxis/comm/communicator.h"

namespace paraxis {

enum class Backend { kThreads, kMpi };
Backend parse_backend(const std::string& name);  // "threads" | "mpi", else a user error
const char* backend_name(Backend b);

struct DeviceOptions {
  int threads_per_device = 1;     // cores (OpenMP threads) each device's kernels may use
  bool pin               = true;  // pin device d to cores [d·K, d·K+K) when devices·K ≤ available cores
  double comm_timeout_s  = 300;  // watchdog: a call blocked this long aborts the group, naming it; ≤ 0: off
  bool check = false;            // compare every collective's op and size across members (MPI: costs a call)
};

// Checks the options (user errors name the flag: --threads-per-device, --comm-timeout).
void validate_device_options(int devices, const DeviceOptions& opt);

void run_devices(int devices, const DeviceOptions& opt, const std::function<void(Communicator&)>& body);
void run_mpi(const DeviceOptions& opt, const std::function<void(Communicator&)>& body);
void launch(Backend backend, int devices, const DeviceOptions& opt,
            const std::function<void(Communicator&)>& body);

// Where the MPI rank and size come from; used by run_mpi (exposed for tests).
struct RankSource {
  int rank = 0, size = 1, local_rank = 0;
  std::string source;  // "mpirun (OMPI_COMM_WORLD_RANK/SIZE)", "RANK/WORLD_SIZE/LOCAL_RANK", "none"
};
RankSource rank_source_from_env();

// Cores this process may run on (sched_getaffinity), in order.
std::vector<int> available_cores();

}  // namespace paraxis
