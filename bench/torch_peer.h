// torch_peer.h — runs bench/peers/torch_step.py (Debian's PyTorch) on the same model, batch and thread count,
// in the same run as our measurement, and returns its median step time.
//
//   double ms = torch_peer_ms("--model mlp --batch 256 --threads 1 --runs 10 --optimizer sgd");
//   if (ms < 0) ... the peer could not run (message printed)
//
// The peer runs at its best: OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE (set in this environment, and halving
// OpenBLAS's speed) are removed from the peer's environment only; ours is left as it is.
#pragma once

#include <fmt/format.h>

#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

namespace paraxis::bench {

inline std::string torch_step_script() {
  return (std::filesystem::path(__FILE__).parent_path() / "peers" / "torch_step.py").string();
}

inline double torch_peer_ms(const std::string& args) {
  std::string cmd = fmt::format("env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/python3 {} {} 2>&1",
                                torch_step_script(), args);
  FILE* p         = popen(cmd.c_str(), "r");
  if (!p) return -1;
  std::string out;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  int rc       = pclose(p);
  size_t brace = out.rfind('{');
  if (rc != 0 || brace == std::string::npos) {
    fmt::print(stderr, "torch peer failed ({}):\n{}\n", cmd, out);
    return -1;
  }
  try {
    return nlohmann::json::parse(out.substr(brace))["median_ms"].get<double>();
  } catch (const std::exception& e) {
    fmt::print(stderr, "torch peer printed no JSON ({}): {}\n", e.what(), out);
    return -1;
  }
}

}  // namespace paraxis::bench
