// torch_peer.h — runs bench/peers/torch_step.py (Debian's PyTorch) on the same model, batch and thread count,
// in the same run as our measurement, and returns its median step time.
//
//   double ms = torch_peer_ms("--model mlp --batch 256 --runs 10 --optimizer sgd", /*threads=*/1);
//   if (ms < 0) ... the peer could not run (message printed)
//
// The peer runs at its best, in its own environment only (ours is left as it is): OPENBLAS_L2_SIZE removed,
// OPENBLAS_NUM_THREADS = the thread count (Debian's torch does not pass set_num_threads on to OpenBLAS's
// pthread pool), and OPENBLAS_CORETYPE = SkylakeX. Not unset: this virtual machine's CPU calls itself
// "Intel(R) Xeon(R) Processor", which OpenBLAS 0.3.21's detection maps to Prescott (SSE3, measured 11 GFLOP/s
// on 256x4096x4096) — the environment's Haswell gives 45, SkylakeX (AVX-512) 75, as fast as oneDNN in the
// same conditions (docs/training.md). PARAXIS_PEER_CORETYPE overrides it; set it empty to unset the variable.
#pragma once

#include <fmt/format.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

namespace paraxis::bench {

inline std::string torch_step_script() {
  return (std::filesystem::path(__FILE__).parent_path() / "peers" / "torch_step.py").string();
}

inline std::string peer_coretype() {
  const char* v = std::getenv("PARAXIS_PEER_CORETYPE");
  return v ? v : "SkylakeX";
}

// The environment every PyTorch peer runs in (see above); threads = OpenBLAS threads per peer process;
// core: the OpenBLAS core type ("" leaves it unset).
inline std::string peer_env(int threads, const std::string& core) {
  return fmt::format("env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS={} {}", threads,
                     core.empty() ? "" : "OPENBLAS_CORETYPE=" + core);
}
inline std::string peer_env(int threads) {
  return peer_env(threads, peer_coretype());
}

struct PeerTimes {
  double wall_ms = -1, cpu_ms = -1;  // medians; cpu: the peer's thread CPU time (-1 when not reported)
};

// Both medians of one peer run; wall_ms < 0 when the peer could not run (message printed).
inline PeerTimes torch_peer_times(const std::string& args, int threads) {
  std::string cmd = fmt::format("{} /usr/bin/python3 {} {} --threads {} 2>&1", peer_env(threads),
                                torch_step_script(), args, threads);
  FILE* p         = popen(cmd.c_str(), "r");
  if (!p) return {};
  std::string out;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  int rc       = pclose(p);
  size_t brace = out.rfind('{');
  if (rc != 0 || brace == std::string::npos) {
    fmt::print(stderr, "torch peer failed ({}):\n{}\n", cmd, out);
    return {};
  }
  try {
    auto j = nlohmann::json::parse(out.substr(brace));
    return {j["median_ms"].get<double>(), j.value("cpu_median_ms", -1.0)};
  } catch (const std::exception& e) {
    fmt::print(stderr, "torch peer printed no JSON ({}): {}\n", e.what(), out);
    return {};
  }
}

inline double torch_peer_ms(const std::string& args, int threads) {
  return torch_peer_times(args, threads).wall_ms;
}

}  // namespace paraxis::bench
