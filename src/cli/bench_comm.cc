// `paraxis bench comm`: nccl-tests-style table of one collective over a range of sizes, results checked,
// beside its peer measured in the same run (threads: PyTorch's gloo; mpi: the raw MPI call) and this
// machine's one-thread memcpy bandwidth.
//
//   paraxis bench comm --devices 2 --op allreduce --sizes 1K:256M
//   mpirun --allow-run-as-root --bind-to none -np 2 paraxis bench comm --backend mpi --sizes 16M:64M
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>

#include "cli/bench.h"
#include "comm/mpi/mpi_comm.h"
#include "paraxis/comm/launch.h"
#include "paraxis/core/error.h"

namespace paraxis::cli {
namespace {

using Clock = std::chrono::steady_clock;

struct BenchOptions {
  std::string backend = "threads";
  int devices         = 2;
  std::string op      = "allreduce";
  std::string sizes   = "1K:256M";
  int factor          = 2;
  int iters           = 0;  // 0: as many as fit in ~0.2 s per size
  int warmup          = 3;
  std::string peer    = "auto";
  DeviceOptions device;
  bool no_pin        = false;
  bool devices_given = false;  // --devices on the command line (with mpi it must match mpirun -np)
};

int64_t parse_bytes(const std::string& s) {
  size_t pos   = 0;
  int64_t v    = 0;
  bool numeric = !s.empty();
  try {
    v = std::stoll(s, &pos);
  } catch (...) {
    numeric = false;
  }
  PX_USER_CHECK(numeric && v >= 0, "--sizes: '{}' is not a size; write bytes like 1K, 64M or 4096", s);
  const std::string unit = s.substr(pos);
  int64_t scale          = 1;
  if (unit == "K")
    scale = 1 << 10;
  else if (unit == "M")
    scale = 1 << 20;
  else if (unit == "G")
    scale = int64_t(1) << 30;
  else
    PX_USER_CHECK(unit.empty(), "--sizes: unit '{}' in '{}' is unknown; use K, M or G (powers of 1024)", unit,
                  s);
  return v * scale;
}

std::vector<int64_t> parse_sizes(const std::string& spec, int factor) {
  PX_USER_CHECK(factor >= 2, "--factor {} must be at least 2", factor);
  auto colon    = spec.find(':');
  int64_t first = parse_bytes(spec.substr(0, colon));
  int64_t last  = colon == std::string::npos ? first : parse_bytes(spec.substr(colon + 1));
  PX_USER_CHECK(first <= last, "--sizes {}: the first size is larger than the last; write MIN:MAX", spec);
  PX_USER_CHECK(last <= (int64_t(4) << 30), "--sizes {}: at most 4G per buffer", spec);
  std::vector<int64_t> out;
  for (int64_t s = std::max<int64_t>(first, 4); s <= last; s *= factor) out.push_back(s);
  return out;
}

std::string human(int64_t bytes) {
  if (bytes >= (1 << 20) && bytes % (1 << 20) == 0) return fmt::format("{}M", bytes >> 20);
  if (bytes >= (1 << 10) && bytes % (1 << 10) == 0) return fmt::format("{}K", bytes >> 10);
  return fmt::format("{}", bytes);
}

// nccl-tests conventions (PERFORMANCE.md): size is the biggest buffer, busbw = algbw × factor.
double bus_factor(const std::string& op, int n) {
  if (op == "allreduce") return 2.0 * (n - 1) / n;
  if (op == "broadcast" || op == "sendrecv") return 1.0;
  return static_cast<double>(n - 1) / n;
}

// Buffers of one size: `count` elements per rank in the nccl sense (in = what each rank sends).
struct Buffers {
  int64_t count = 0;  // elements per rank of the per-rank operand (chunk for allgather/reduce_scatter)
  std::vector<float> in, out;
};

Buffers make_buffers(const std::string& op, int64_t bytes, int n) {
  Buffers b;
  const int64_t elems = bytes / 4;
  if (op == "allreduce" || op == "broadcast" || op == "sendrecv") {
    b.count = elems;
    b.in.assign(elems, 1.0f);
    b.out.assign(elems, 0.0f);
  } else if (op == "allgather") {
    b.count = elems / n;
    b.in.assign(b.count, 1.0f);
    b.out.assign(b.count * n, 0.0f);
  } else {  // reduce_scatter, alltoall
    b.count = elems / n;
    b.in.assign(b.count * n, 1.0f);
    b.out.assign(op == "alltoall" ? b.count * n : b.count, 0.0f);
  }
  return b;
}

void run_op(Communicator& comm, const std::string& op, Buffers& b) {
  const int n = comm.size(), r = comm.rank();
  if (op == "allreduce")
    comm.all_reduce(b.in.data(), b.count);
  else if (op == "reduce_scatter")
    comm.reduce_scatter(b.out.data(), b.in.data(), b.count);
  else if (op == "allgather")
    comm.all_gather(b.out.data(), b.in.data(), b.count);
  else if (op == "broadcast")
    comm.broadcast(b.in.data(), b.count, 0);
  else if (op == "alltoall")
    comm.all_to_all(b.out.data(), b.in.data(), b.count);
  else
    comm.send_recv(b.in.data(), b.count, (r + 1) % n, b.out.data(), b.count, (r + n - 1) % n);
}

// The same operation straight through MPI, for the mpi backend's peer column.
void run_raw_mpi(MPI_Comm comm, const std::string& op, Buffers& b, int n, int r) {
  const int c = static_cast<int>(b.count);
  if (op == "allreduce")
    MPI_Allreduce(MPI_IN_PLACE, b.in.data(), c, MPI_FLOAT, MPI_SUM, comm);
  else if (op == "reduce_scatter")
    MPI_Reduce_scatter_block(b.in.data(), b.out.data(), c, MPI_FLOAT, MPI_SUM, comm);
  else if (op == "allgather")
    MPI_Allgather(b.in.data(), c, MPI_FLOAT, b.out.data(), c, MPI_FLOAT, comm);
  else if (op == "broadcast")
    MPI_Bcast(b.in.data(), c, MPI_FLOAT, 0, comm);
  else if (op == "alltoall")
    MPI_Alltoall(b.in.data(), c, MPI_FLOAT, b.out.data(), c, MPI_FLOAT, comm);
  else
    MPI_Sendrecv(b.in.data(), c, MPI_FLOAT, (r + 1) % n, 0, b.out.data(), c, MPI_FLOAT, (r + n - 1) % n, 0,
                 comm, MPI_STATUS_IGNORE);
}

float pattern(int r, int64_t i) {
  return static_cast<float>(r + 1 + 8 * (i % 5));
}

// Runs the op once on patterned inputs and counts the elements that differ from the closed form.
int64_t count_wrong(Communicator& comm, const std::string& op, Buffers& b) {
  const int n = comm.size(), r = comm.rank();
  const int64_t c = b.count;
  if (op == "alltoall") {
    for (int j = 0; j < n; ++j)
      for (int64_t i = 0; i < c; ++i) b.in[j * c + i] = static_cast<float>(100 * r + 10 * j + i % 7);
  } else {
    for (size_t i = 0; i < b.in.size(); ++i) b.in[i] = pattern(r, static_cast<int64_t>(i));
  }
  run_op(comm, op, b);
  int64_t wrong         = 0;
  const double rank_sum = n * (n + 1) / 2.0;
  auto check            = [&](float got, double want) { wrong += got != static_cast<float>(want); };
  if (op == "allreduce")
    for (int64_t i = 0; i < c; ++i) check(b.in[i], rank_sum + 8.0 * n * (i % 5));
  if (op == "reduce_scatter")
    for (int64_t i = 0; i < c; ++i) check(b.out[i], rank_sum + 8.0 * n * ((r * c + i) % 5));
  if (op == "allgather")
    for (int64_t k = 0; k < n * c; ++k) check(b.out[k], pattern(static_cast<int>(k / c), k % c));
  if (op == "broadcast")
    for (int64_t i = 0; i < c; ++i) check(b.in[i], pattern(0, i));
  if (op == "sendrecv")
    for (int64_t i = 0; i < c; ++i) check(b.out[i], pattern((r + n - 1) % n, i));
  if (op == "alltoall")
    for (int64_t k = 0; k < n * c; ++k) check(b.out[k], 100.0 * (k / c) + 10.0 * r + (k % c) % 7);
  float w = static_cast<float>(wrong);
  comm.all_reduce(&w, 1);
  return static_cast<int64_t>(w);
}

// Seconds per call, the slowest rank's, over `iters` calls (all ranks agree on iters).
template <class F>
double time_per_call(Communicator& comm, int iters, F&& call) {
  comm.barrier();
  auto t0 = Clock::now();
  for (int i = 0; i < iters; ++i) call();
  float dt = std::chrono::duration<float>(Clock::now() - t0).count() / iters;
  comm.all_reduce(&dt, 1, ReduceOp::kMax);
  return dt;
}

double memcpy_gbps() {
  const size_t bytes = size_t(64) << 20;
  std::vector<char> src(bytes, 1), dst(bytes, 0);
  double best = 0;
  for (int rep = 0; rep < 5; ++rep) {
    auto t0 = Clock::now();
    std::memcpy(dst.data(), src.data(), bytes);
    best = std::max(best, bytes / 1e9 / std::chrono::duration<double>(Clock::now() - t0).count());
  }
  return best;
}

// PyTorch gloo all-reduce on the same sizes: seconds per call by size, empty when torch is missing.
const char* kGlooScript = R"PY(
import socket, sys, time
import torch, torch.distributed as dist, torch.multiprocessing as mp
def worker(rank, n, port, sizes):
    torch.set_num_threads(1)
    dist.init_process_group('gloo', init_method=f'tcp://127.0.0.1:{port}', rank=rank, world_size=n)
    for nbytes in sizes:
        t = torch.ones(nbytes // 4)
        for _ in range(2): dist.all_reduce(t)
        iters = max(3, min(200, int(1e8 // max(nbytes, 1))))
        dist.barrier()
        t0 = time.perf_counter()
        for _ in range(iters): dist.all_reduce(t)
        dt = torch.tensor([(time.perf_counter() - t0) / iters], dtype=torch.float64)
        dist.all_reduce(dt, op=dist.ReduceOp.MAX)
        if rank == 0: print(nbytes, dt.item(), flush=True)
    dist.destroy_process_group()
if __name__ == '__main__':
    n = int(sys.argv[1]); sizes = [int(s) for s in sys.argv[2:]]
    s = socket.socket(); s.bind(('127.0.0.1', 0)); port = s.getsockname()[1]; s.close()
    mp.spawn(worker, args=(n, port, sizes), nprocs=n)
)PY";

std::map<int64_t, double> run_gloo(int n, const std::vector<int64_t>& sizes) {
  std::map<int64_t, double> out;
  if (access("/usr/bin/python3", X_OK) != 0) return out;
  char path[] = "/tmp/paraxis_gloo_XXXXXX.py";
  int fd      = mkstemps(path, 3);
  if (fd < 0) return out;
  PX_CHECK(write(fd, kGlooScript, std::strlen(kGlooScript)) == static_cast<ssize_t>(std::strlen(kGlooScript)),
           "could not write {}", path);
  close(fd);
  std::string cmd = fmt::format("/usr/bin/python3 {} {}", path, n);
  for (int64_t s : sizes) cmd += fmt::format(" {}", s);
  cmd += " 2>/dev/null";
  if (FILE* p = popen(cmd.c_str(), "r")) {
    long long bytes = 0;
    double seconds  = 0;
    while (std::fscanf(p, "%lld %lf", &bytes, &seconds) == 2) out[bytes] = seconds;
    pclose(p);
  }
  unlink(path);
  return out;
}

int run_bench(const BenchOptions& o) {
  const Backend backend                     = parse_backend(o.backend);
  static const std::vector<std::string> ops = {"allreduce", "reduce_scatter", "allgather",
                                               "broadcast", "sendrecv",       "alltoall"};
  PX_USER_CHECK(std::find(ops.begin(), ops.end(), o.op) != ops.end(), "--op {} is unknown; use one of {}",
                o.op, fmt::join(ops, ", "));
  PX_USER_CHECK(o.iters >= 0 && o.warmup >= 0, "--iters {} and --warmup {} must not be negative", o.iters,
                o.warmup);
  PX_USER_CHECK(o.peer == "auto" || o.peer == "none", "--peer {} is unknown; use auto or none", o.peer);
  const auto sizes  = parse_sizes(o.sizes, o.factor);
  DeviceOptions dev = o.device;
  dev.pin           = !o.no_pin;
  validate_device_options(o.devices, dev);

  const double memcpy_ref = memcpy_gbps();
  std::map<int64_t, double> gloo;
  const bool want_gloo =
      backend == Backend::kThreads && o.op == "allreduce" && o.peer == "auto" && o.devices > 1;
  if (want_gloo) gloo = run_gloo(o.devices, sizes);

  int64_t total_wrong = 0;
  auto body           = [&](Communicator& comm) {
    const int n = comm.size(), r = comm.rank();
    const bool mpi_peer = backend == Backend::kMpi && o.peer == "auto";
    PX_USER_CHECK(o.op != "sendrecv" || n > 1, "--op sendrecv needs at least 2 devices");
    PX_USER_CHECK(
                  backend == Backend::kThreads || !o.devices_given || o.devices == n,
                  "--devices {} but mpirun started {} ranks; with --backend mpi leave --devices out or match -np",
                  o.devices, n);
    if (r == 0) {
      fmt::print("# paraxis bench comm: {}, float sum, backend {}, {} devices, {} kernel thread(s) each{}\n",
                           o.op, comm.backend(), n, dev.threads_per_device,
                 dev.pin ? ", pinned when cores suffice" : "");
      fmt::print("# reference: one-thread memcpy bandwidth {:.1f} GB/s (64 MiB)\n", memcpy_ref);
      if (want_gloo && gloo.empty())
        fmt::print("# peer: PyTorch gloo not available (/usr/bin/python3 with torch)\n");
      std::string peer_head = mpi_peer ? "   raw-MPI time_us  busbw   ours/raw"
                                                 : (!gloo.empty() ? "   gloo time_us  busbw   ours/gloo" : "");
      fmt::print("#{:>11} {:>12} {:>11} {:>11} {:>11} {:>7}{}\n", "size", "count", "time_us", "algbw_GB/s",
                           "busbw_GB/s", "#wrong", peer_head);
    }
    for (int64_t bytes : sizes) {
      Buffers b = make_buffers(o.op, bytes, n);
      for (int i = 0; i < o.warmup; ++i) run_op(comm, o.op, b);
      int iters = o.iters;
      if (iters == 0) {  // aim at ~0.2 s per size; every rank uses the slowest rank's estimate
        float one = static_cast<float>(time_per_call(comm, 1, [&] { run_op(comm, o.op, b); }));
        iters     = static_cast<int>(std::clamp(0.2 / std::max(one, 1e-7f), 2.0, 2000.0));
      }
      const double t = time_per_call(comm, iters, [&] { run_op(comm, o.op, b); });
      double raw     = 0;
      if (mpi_peer) {
        MPI_Comm handle = comm_detail::mpi_handle(comm);
        raw             = time_per_call(comm, iters, [&] { run_raw_mpi(handle, o.op, b, n, r); });
      }
      const int64_t wrong = count_wrong(comm, o.op, b);
      if (r != 0) continue;
      total_wrong += wrong;
      const double algbw = bytes / 1e9 / t, busbw = algbw * bus_factor(o.op, n);
      std::string peer;
      if (mpi_peer) {
        const double raw_bus = bytes / 1e9 / raw * bus_factor(o.op, n);
        peer = fmt::format("   {:>12.1f} {:>6.2f} {:>9.2f}", raw * 1e6, raw_bus, busbw / raw_bus);
      } else if (gloo.count(bytes)) {
        const double g_bus = bytes / 1e9 / gloo[bytes] * bus_factor(o.op, n);
        peer = fmt::format("   {:>9.1f} {:>6.2f} {:>11.2f}", gloo[bytes] * 1e6, g_bus, busbw / g_bus);
      }
      fmt::print("{:>12} {:>12} {:>11.1f} {:>11.2f} {:>11.2f} {:>7}{}\n", human(bytes), bytes / 4, t * 1e6,
                           algbw, busbw, wrong, peer);
      std::fflush(stdout);
    }
  };
  launch(backend, o.devices, dev, body);
  // Like a failed test: a wrong result makes the benchmark fail, so CI and scripts notice.
  PX_CHECK(total_wrong == 0, "{} results were wrong (see the #wrong column)", total_wrong);
  return 0;
}

const bool registered = register_bench(
    {"comm", "Collective bandwidth, nccl-tests style, beside gloo (threads) or raw MPI (mpi)",
     [](CLI::App& app) -> Runner {
       auto o = std::make_shared<BenchOptions>();
       app.add_option("--backend", o->backend, "threads (devices are threads) or mpi (under mpirun)")
           ->capture_default_str();
       CLI::Option* devices =
           app.add_option("--devices", o->devices, "Devices (threads backend; mpi uses mpirun -np)")
               ->capture_default_str();
       app.add_option("--op", o->op, "allreduce, reduce_scatter, allgather, broadcast, sendrecv or alltoall")
           ->capture_default_str();
       app.add_option("--sizes", o->sizes, "Byte sizes MIN:MAX (K, M, G = powers of 1024)")
           ->capture_default_str();
       app.add_option("--factor", o->factor, "Size step factor")->capture_default_str();
       app.add_option("--iters", o->iters, "Timed calls per size (0: about 0.2 s per size)")
           ->capture_default_str();
       app.add_option("--warmup", o->warmup, "Untimed calls per size")->capture_default_str();
       app.add_option("--peer", o->peer, "auto (gloo for threads all-reduce, raw MPI for mpi) or none")
           ->capture_default_str();
       app.add_option("--threads-per-device", o->device.threads_per_device,
                      "Kernel threads (cores) per device")
           ->capture_default_str();
       app.add_option("--comm-timeout", o->device.comm_timeout_s, "Watchdog seconds (0: off)")
           ->capture_default_str();
       app.add_flag("--comm-check", o->device.check, "Compare every collective across devices first");
       app.add_flag("--no-pin", o->no_pin, "Do not pin device threads to cores");
       return [o, devices] {
         o->devices_given = devices->count() > 0;
         return run_bench(*o);
       };
     }});

}  // namespace
}  // namespace paraxis::cli
