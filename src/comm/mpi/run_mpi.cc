// run_mpi: this process is one device of an MPI job. A failure prints its root cause and aborts the job, so
// no rank waits forever for one that died.
#include <pthread.h>
#include <sched.h>

#include <cstdio>
#include <cstdlib>

#include "comm/mpi/mpi_comm.h"
#include "paraxis/comm/launch.h"
#include "paraxis/core/error.h"
#include "paraxis/core/threads.h"

namespace paraxis {

namespace {
[[noreturn]] void abort_job(int rank, const char* what, int code) {
  std::fprintf(stderr, "paraxis: rank %d failed, aborting the MPI job: %s\n", rank, what);
  std::fflush(stderr);
  MPI_Abort(MPI_COMM_WORLD, code);
  std::_Exit(code);  // MPI_Abort does not return; this is for the compiler
}

int local_size_from_env() {
  for (const char* name : {"OMPI_COMM_WORLD_LOCAL_SIZE", "LOCAL_WORLD_SIZE"})
    if (const char* v = std::getenv(name)) return std::atoi(v);
  return 0;  // unknown
}
}  // namespace

void run_mpi(const DeviceOptions& opt, const std::function<void(Communicator&)>& body) {
  validate_device_options(1, opt);
  const RankSource source = rank_source_from_env();
  int initialized         = 0;
  MPI_Initialized(&initialized);
  PX_CHECK(!initialized, "run_mpi: MPI is already initialised; call run_mpi once per process");
  int provided = 0;
  comm_detail::mpi_check(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_MULTIPLE, &provided),
                         "MPI_Init_thread");
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  set_current_device(rank);
  try {
    PX_CHECK(provided == MPI_THREAD_MULTIPLE,
             "this MPI library gives thread level {}, paraxis needs MPI_THREAD_MULTIPLE ({})", provided,
             MPI_THREAD_MULTIPLE);
    PX_USER_CHECK(
        source.size == 1 || (source.size == size && source.rank == rank),
        "the launcher says rank {} of {} ({}) but MPI sees rank {} of {}: the processes were not started "
        "as one MPI job; start them with mpirun -np {} (or srun --mpi=pmix)",
        source.rank, source.size, source.source, rank, size, source.size);
    if (rank == 0)
      fmt::print(stderr, "paraxis: mpi backend, {} ranks; rank and size from {}\n", size, source.source);
    const int local_size = local_size_from_env();
    const auto cores     = available_cores();
    if (opt.pin && local_size > 0 &&
        static_cast<size_t>(local_size) * opt.threads_per_device <= cores.size()) {
      cpu_set_t set;
      CPU_ZERO(&set);
      for (int k = 0; k < opt.threads_per_device; ++k)
        CPU_SET(cores[source.local_rank * opt.threads_per_device + k], &set);
      sched_setaffinity(0, sizeof(set), &set);
    }
    set_kernel_threads(opt.threads_per_device);
    comm_detail::mpi_watchdog_start(opt.comm_timeout_s);
    {
      comm_detail::MpiCommunicator world(MPI_COMM_WORLD, "world");
      world.set_check(opt.check);
      body(world);
    }
    comm_detail::mpi_watchdog_stop();
  } catch (const Error& e) {
    abort_job(rank, e.what(), e.exit_code());
  } catch (const std::exception& e) {
    abort_job(rank, e.what(), 1);
  }
  MPI_Finalize();
  set_current_device(-1);
}

}  // namespace paraxis
