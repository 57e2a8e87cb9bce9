// Backend-independent launch helpers: flag parsing, option checks, cores, and where MPI ranks come from.
#include "paraxis/comm/launch.h"

#include <sched.h>

#include <cstdlib>

#include "paraxis/core/error.h"

namespace paraxis {

Backend parse_backend(const std::string& name) {
  if (name == "threads") return Backend::kThreads;
  if (name == "mpi") return Backend::kMpi;
  PX_USER_FAIL(
      "--backend {} is not a backend; use --backend threads (devices as threads, the default) or "
      "--backend mpi (under mpirun)",
      name);
}

const char* backend_name(Backend b) {
  return b == Backend::kThreads ? "threads" : "mpi";
}

void validate_device_options(int devices, const DeviceOptions& opt) {
  PX_USER_CHECK(devices >= 1, "--devices {} must be at least 1; use --devices 1, 2, 4 …", devices);
  PX_USER_CHECK(opt.threads_per_device >= 1,
                "--threads-per-device {} must be at least 1; use 1 (the default)", opt.threads_per_device);
  PX_USER_CHECK(opt.comm_timeout_s >= 0,
                "--comm-timeout {} is negative; use seconds > 0, or 0 to turn the "
                "watchdog off",
                opt.comm_timeout_s);
}

std::vector<int> available_cores() {
  std::vector<int> cores;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    for (int c = 0; c < CPU_SETSIZE; ++c)
      if (CPU_ISSET(c, &set)) cores.push_back(c);
  }
  return cores;
}

namespace {
bool env_int(const char* name, int* out) {
  const char* v = std::getenv(name);
  if (!v || !*v) return false;
  char* end = nullptr;
  long x    = std::strtol(v, &end, 10);
  PX_USER_CHECK(*end == '\0' && x >= 0 && x < (1 << 24),
                "environment variable {}={} is not a rank or size; "
                "launchers set it to a small non-negative integer",
                name, v);
  *out = static_cast<int>(x);
  return true;
}
}  // namespace

RankSource rank_source_from_env() {
  RankSource s;
  if (env_int("OMPI_COMM_WORLD_RANK", &s.rank)) {
    PX_USER_CHECK(env_int("OMPI_COMM_WORLD_SIZE", &s.size),
                  "OMPI_COMM_WORLD_RANK is set but not "
                  "OMPI_COMM_WORLD_SIZE; start with mpirun -np N");
    if (!env_int("OMPI_COMM_WORLD_LOCAL_RANK", &s.local_rank)) s.local_rank = s.rank;
    s.source = "mpirun (OMPI_COMM_WORLD_RANK/OMPI_COMM_WORLD_SIZE)";
  } else if (env_int("RANK", &s.rank)) {
    PX_USER_CHECK(env_int("WORLD_SIZE", &s.size),
                  "RANK is set but not WORLD_SIZE; a torchrun-style launcher "
                  "sets RANK, WORLD_SIZE and LOCAL_RANK");
    if (!env_int("LOCAL_RANK", &s.local_rank)) s.local_rank = s.rank;
    s.source = "launcher variables (RANK/WORLD_SIZE/LOCAL_RANK)";
  } else {
    s.source = "none (no launcher variables: a single process)";
  }
  PX_USER_CHECK(s.rank < s.size, "rank {} is not below world size {} (from {})", s.rank, s.size, s.source);
  return s;
}

void launch(Backend backend, int devices, const DeviceOptions& opt,
            const std::function<void(Communicator&)>& body) {
  if (backend == Backend::kThreads) return run_devices(devices, opt, body);
  run_mpi(opt, body);
}

}  // namespace paraxis
