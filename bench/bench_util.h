// bench_util.h — what the layout benchmarks share: the load average, medians, synthetic data for the two
// reference models, and running a PyTorch peer.
//
//   fmt::print("load average {}\n", bench::load_average());
//   auto data = bench::synthetic_data(spec);                 // MLP: Gaussian blobs; GPT: random tokens
//   std::optional<double> ms = bench::torch_peer_ms("torch_step.py --model mlp --batch 256 --threads 2");
#pragma once

#include "torch_peer.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "paraxis/data/sources.h"
#include "paraxis/nn/model.h"

namespace paraxis::bench {

inline std::string load_average() {
  std::ifstream f("/proc/loadavg");
  double one = 0, five = 0, fifteen = 0;
  if (!(f >> one >> five >> fifteen)) return "unknown";
  return fmt::format("{:.2f} {:.2f} {:.2f} (1, 5, 15 min)", one, five, fifteen);
}

inline double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

// Step time does not depend on the values, so seeded synthetic data of the model's shape stands in.
inline std::shared_ptr<const Dataset> synthetic_data(const ModelSpec& spec) {
  if (spec.kind == "gpt")
    return make_text_splits(make_synthetic_tokens(1 << 16, spec.vocab, 1), spec.context, 0.1, spec.vocab,
                            "synthetic tokens")
        .train;
  return std::make_shared<ClassificationDataset>(
      make_synthetic_classification(4096, {spec.mlp_sizes.front()}, spec.mlp_sizes.back(), 1, 1.0f));
}

// Runs bench/peers/<args> with Debian's python3-torch and returns its median_ms, in the peer environment of
// torch_peer.h (the peer at its best: OpenBLAS's AVX-512 kernels, one OpenBLAS thread per torch thread).
// Empty when the peer is not installed or fails (its output is printed).
inline std::optional<double> torch_peer_ms(const std::string& args) {
  std::string dir = __FILE__;  // .../bench/bench_util.h: the peers live beside it
  dir             = dir.substr(0, dir.find_last_of('/') + 1) + "peers";
  int threads     = 1;  // per peer process: "--threads N" in the arguments, else 1 (the DDP peer's processes)
  if (size_t at = args.find("--threads "); at != std::string::npos)
    threads = std::atoi(args.c_str() + at + 10);
  std::string cmd = fmt::format("{} /usr/bin/python3 {}/{} 2>&1", peer_env(threads), dir, args);
  std::string out;
  if (FILE* p = popen(cmd.c_str(), "r")) {
    char buf[4096];
    while (fgets(buf, sizeof buf, p)) out += buf;
    if (pclose(p) != 0) {
      fmt::print("  peer failed: {}\n  {}\n", cmd, out);
      return std::nullopt;
    }
  }
  size_t brace = out.rfind("{\"");
  if (brace == std::string::npos) return std::nullopt;
  try {
    return nlohmann::json::parse(out.substr(brace)).at("median_ms").get<double>();
  } catch (const std::exception&) {
    fmt::print("  peer output not understood: {}\n", out);
    return std::nullopt;
  }
}

inline std::string mlp_arg(const ModelSpec& spec) {
  std::string s;
  for (int64_t w : spec.mlp_sizes) s += (s.empty() ? "" : ",") + std::to_string(w);
  return s;
}
inline std::string peer_model_args(const ModelSpec& spec) {
  if (spec.kind == "gpt")
    return fmt::format("--model gpt --gpt {},{},{},{},{}", spec.vocab, spec.context, spec.width, spec.heads,
                       spec.layers);
  return "--model mlp --mlp-sizes " + mlp_arg(spec);
}

}  // namespace paraxis::bench
