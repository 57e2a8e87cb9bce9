// bench_spatial — domain parallelism where it pays: a high-resolution CNN whose batch is too small to split
// well, on 2 devices (1 kernel thread each) against one device, dp2 and PyTorch; and AlexNet against PyTorch's
// torchvision-shaped AlexNet at one thread.
//
//   build/bench_spatial [--short] [--rounds 5] [--steps 6] [--part highres|alexnet|both] [--peer torch|none]
//
// highres: `--model cnn --image 3,512,512` with c1 16, c2 32, fc 16, 10 classes (conv 5x5 pad 2, relu, pool 2,
// twice; fc1 over 32x128x128 features), global batch 2, SGD (lr 0.01, momentum 0.9) in every step on both
// sides. Layouts: 1 device (1 thread), sp2 and dp2 (2 devices x 1 thread, threads backend). Peer: PyTorch 1.13
// (Debian's /usr/bin/python3, bench/peers/torch_step.py, same net, batch and optimizer) with
// torch.set_num_threads(1) and (2), each under OPENBLAS_CORETYPE unset and SkylakeX; the faster of the two
// (by median) is the one compared.
// alexnet: torchvision's AlexNet shapes (224x224x3, 1000 classes, dropout 0), batch 8, one device, 1 thread,
// against the peer at 1 thread.
//
// Rounds interleave every configuration (ours and the peer's), so load from other work falls on all of them
// alike; each configuration's figure is the median over rounds of its run's median step [min-max over
// rounds], and each speedup or ratio is the median over rounds of that round's ratio [min-max].
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <map>

#include "bench_util.h"
#include "paraxis/core/error.h"
#include "paraxis/train/layout_run.h"

using namespace paraxis;

namespace {

struct Series {
  std::string label;
  std::vector<double> ms;  // one figure per round
};

std::string spread(const std::vector<double>& v, const char* unit) {
  auto [lo, hi] = std::minmax_element(v.begin(), v.end());
  return fmt::format("{:.2f}{} [{:.2f}-{:.2f}]", bench::median(v), unit, *lo, *hi);
}

std::vector<double> ratios(const std::vector<double>& num, const std::vector<double>& den) {
  std::vector<double> r;
  for (size_t i = 0; i < num.size() && i < den.size(); ++i)
    if (num[i] > 0 && den[i] > 0) r.push_back(num[i] / den[i]);
  return r;
}

// One PyTorch run under the given OPENBLAS_CORETYPE ("" unsets it); its median step in ms, -1 if it failed.
double peer_ms(const std::string& args, int threads, const std::string& coretype, int runs) {
  setenv("PARAXIS_PEER_CORETYPE", coretype.c_str(), 1);
  return bench::torch_peer_ms(fmt::format("{} --optimizer sgd --runs {} --warmup 1", args, runs), threads);
}

struct Peer {
  std::string label, args;
  int threads;
  std::map<std::string, Series> by_core;  // "unset", "SkylakeX"
  void measure(int runs) {
    for (std::string core : {"", "SkylakeX"}) {
      Series& s = by_core[core.empty() ? "unset" : core];
      s.ms.push_back(peer_ms(args, threads, core, runs));
    }
  }
  // The faster coretype's series (by median), and its name.
  std::pair<std::string, const Series*> best() const {
    const Series* out = nullptr;
    std::string name;
    for (const auto& [core, s] : by_core)
      if (!out || bench::median(s.ms) < bench::median(out->ms)) out = &s, name = core;
    return {name, out};
  }
};

LayoutRunConfig base_config(const ModelSpec& spec, int64_t batch, int steps, int64_t samples) {
  LayoutRunConfig c;
  c.model = spec;
  c.data  = std::make_shared<ClassificationDataset>(
      make_synthetic_classification(samples, spec.image, spec.classes, 1, 1.0f));
  c.batch = batch, c.steps = steps, c.lr = 0.01, c.momentum = 0.9;
  return c;
}

void print_peers(const std::vector<Peer>& peers, const Series& ours_ref) {
  for (const Peer& p : peers) {
    for (const auto& [core, s] : p.by_core)
      fmt::print("  {:<36} {}\n", fmt::format("{} (CORETYPE {})", p.label, core), spread(s.ms, " ms"));
    auto [core, s] = p.best();
    fmt::print("  {:<36} ratio torch/ours(1 device) {}  (faster coretype: {})\n", p.label,
               spread(ratios(s->ms, ours_ref.ms), "x"), core);
  }
}

void bench_highres(int rounds, int steps, int peer_runs, bool peers) {
  ModelSpec spec       = ModelSpec::cnn(16, 32, 16, 10);
  spec.image           = {3, 512, 512};
  const int64_t batch  = 2;
  LayoutRunConfig base = base_config(spec, batch, steps, 8);
  std::vector<std::pair<Series, LayoutRunConfig>> ours;
  ours.push_back({{"1 device, 1 thread", {}}, base});
  ours.push_back({{"sp2 (2 devices x 1 thread)", {}}, base});
  ours.back().second.devices = 2, ours.back().second.sp = 2;
  ours.push_back({{"dp2 (2 devices x 1 thread)", {}}, base});
  ours.back().second.devices = 2, ours.back().second.dp = 2;
  const std::string args =
      fmt::format("--model cnn --cnn 16,32,16,10 --cnn-kernel 5,1 --image 3,512,512 --batch {}", batch);
  std::vector<Peer> peer_list = {{"torch 1 thread", args, 1, {}}, {"torch 2 threads", args, 2, {}}};

  fmt::print("\nhigh resolution: {}, batch {}, {} steps per run, {} rounds\n", spec.describe(), batch, steps,
             rounds);
  for (int r = 0; r < rounds; ++r) {
    for (auto& [s, cfg] : ours) s.ms.push_back(run_layout(cfg).median_step_ms());
    if (peers)
      for (Peer& p : peer_list) p.measure(peer_runs);
    fmt::print("  round {}: ours {:.0f} / {:.0f} / {:.0f} ms (1 device / sp2 / dp2), load {}\n", r + 1,
               ours[0].first.ms.back(), ours[1].first.ms.back(), ours[2].first.ms.back(),
               bench::load_average());
    std::fflush(stdout);
  }
  for (auto& [s, cfg] : ours)
    fmt::print("  {:<36} {}   speedup over 1 device {}\n", s.label, spread(s.ms, " ms"),
               spread(ratios(ours[0].first.ms, s.ms), "x"));
  fmt::print("  target (issue #16): sp2 >= 1.60x over 1 device\n");
  if (peers) {
    print_peers(peer_list, ours[0].first);
    for (size_t i = 1; i < ours.size(); ++i) {
      auto [core, s] = peer_list[1].best();
      fmt::print("  {:<36} ratio torch 2 threads/{} {}\n", "", ours[i].first.label.substr(0, 3),
                 spread(ratios(s->ms, ours[i].first.ms), "x"));
    }
  }
}

void bench_alexnet(int rounds, int steps, int peer_runs, bool peers) {
  const ModelSpec spec = ModelSpec::alexnet(1000);
  const int64_t batch  = 8;
  LayoutRunConfig cfg  = base_config(spec, batch, steps, 16);
  Series ours{"paraxis 1 device, 1 thread", {}};
  std::vector<Peer> peer_list = {{"torch 1 thread", fmt::format("--model alexnet --batch {}", batch), 1, {}}};
  fmt::print("\nalexnet: {}, batch {}, {} steps per run, {} rounds\n", spec.describe(), batch, steps, rounds);
  for (int r = 0; r < rounds; ++r) {
    ours.ms.push_back(run_layout(cfg).median_step_ms());
    if (peers)
      for (Peer& p : peer_list) p.measure(peer_runs);
    fmt::print("  round {}: ours {:.0f} ms, load {}\n", r + 1, ours.ms.back(), bench::load_average());
    std::fflush(stdout);
  }
  fmt::print("  {:<36} {}\n", ours.label, spread(ours.ms, " ms"));
  if (peers) print_peers(peer_list, ours);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"bench_spatial: sp2 vs one device, dp2 and PyTorch on a 512x512 CNN; AlexNet vs PyTorch"};
  int steps = 6, rounds = 5, peer_runs = 5;
  bool quick       = false;
  std::string part = "both", peer = "torch";
  app.add_flag("--short", quick, "3 rounds of 4 steps, 3 peer steps (about 3 minutes on a quiet host)");
  app.add_option("--steps", steps, "Steps per run (the first is not timed)")->capture_default_str();
  app.add_option("--rounds", rounds, "Interleaved rounds")->capture_default_str();
  app.add_option("--peer-runs", peer_runs, "Timed PyTorch steps per run")->capture_default_str();
  app.add_option("--part", part, "highres | alexnet | both")->capture_default_str();
  app.add_option("--peer", peer, "torch | none")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  if (quick) steps = 4, rounds = 3, peer_runs = 3;
  try {
    PX_USER_CHECK(steps >= 3 && rounds >= 1 && peer_runs >= 1,
                  "--steps {} --rounds {} --peer-runs {}: need at least 3 steps, 1 round, 1 peer run", steps,
                  rounds, peer_runs);
    PX_USER_CHECK(part == "highres" || part == "alexnet" || part == "both",
                  "--part {}: use highres, alexnet or both", part);
    PX_USER_CHECK(peer == "torch" || peer == "none", "--peer {}: use torch or none", peer);
    fmt::print("bench_spatial: load average at start {}\n", bench::load_average());
    if (part != "alexnet") bench_highres(rounds, steps, peer_runs, peer == "torch");
    if (part != "highres") bench_alexnet(rounds, steps, peer_runs, peer == "torch");
    fmt::print(
        "\nload average at end {} (2 cores shared with other work: sp2/dp2 speedups need a quiet "
        "host)\n",
        bench::load_average());
  } catch (const Error& e) {
    fmt::print(stderr, "error: {}\n", e.what());
    return e.exit_code();
  }
  return 0;
}
