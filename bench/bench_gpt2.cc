// bench_gpt2 — one full training step (forward, loss, backward, AdamW) of GPT-2 small (V50257, T1024, C768,
// NH12, L12, untied lm_head, erf GELU), batch 1, with the Engine `paraxis train` uses, beside PyTorch 1.13 on
// the same model (bench/peers/torch_models.py: fused QKV Linear, masked softmax, F.gelu) at each thread count,
// interleaved round by round. Each side runs in its own child process per round (warm-up steps, then timed
// steps), so each process's peak resident set (getrusage ru_maxrss: code, model, gradients, AdamW state,
// activations) is its own. Prints per thread count: the median step [range over rounds] of each side, the
// ratio torch ÷ paraxis (> 1: paraxis faster) median [range], with one thread also in thread CPU time (steadier
// on a shared machine), the peak RSS of each and our measured peak of activations kept for the backward.
//
// --bf16 adds our step under --precision bf16 (bf16 matmul inputs, fp32 accumulation, weights and AdamW state)
// and PyTorch's under torch.autocast('cpu', dtype=torch.bfloat16) (its forward and loss; fp32 weights and
// AdamW) to each round, each in its own process too, and prints each side's fp32 ÷ bf16 (> 1: bf16 faster) and
// torch bf16 ÷ paraxis bf16.
//
// The peer's OpenBLAS core type is chosen in the same run: OPENBLAS_CORETYPE unset and SkylakeX each time one
// step of a one-layer GPT-2-width model, and the faster is kept (--coretype NAME, or "unset", skips that).
//
//   build/bench_gpt2 [--rounds 3] [--steps 2] [--threads 1,2] [--coretype auto] [--bf16]
#include <fmt/format.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <sstream>
#include <string>
#include <vector>

#include "bench_util.h"
#include "paraxis/comm/launch.h"
#include "paraxis/core/tensor.h"
#include "paraxis/data/loader.h"
#include "paraxis/kernels/precision.h"
#include "paraxis/parallel/engine.h"

using namespace paraxis;

namespace {

const ModelSpec kGpt2  = ModelSpec::gpt(50257, 1024, 768, 12, 12);
const char* kPeerModel = "--model gpt --gpt 50257,1024,768,12,12";

double thread_cpu_ms() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

double peak_rss_mb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;  // Linux: KiB
}

// The child: `steps` timed AdamW steps after one warm-up; prints one JSON line like torch_step.py's.
int run_ours(int threads, int steps, const std::string& precision) {
  const MatmulPrecisionScope scope(parse_precision(precision));
  auto data = bench::synthetic_data(kGpt2);
  std::vector<double> wall, cpu;
  int64_t stash = 0, tensors = 0;
  DeviceOptions dev;
  dev.threads_per_device = threads;
  run_devices(1, dev, [&](Communicator& world) {
    EngineConfig cfg;
    cfg.grid       = Grid{1, 1, 1};
    cfg.schedule   = {pipeline::ScheduleKind::k1F1B, 1, 1, 1};
    cfg.optim.kind = "adamw";
    Engine engine(kGpt2, cfg, world);
    Loader loader(data, {.batch_size = 1, .shuffle = true, .seed = 1});
    for (int it = 0; it < steps + 1; ++it) {
      Batch b     = loader.next();
      auto t0     = std::chrono::steady_clock::now();
      double c0   = thread_cpu_ms();
      StepStats s = engine.step(b.x, b.y, 1e-3);
      double c1   = thread_cpu_ms();
      auto t1     = std::chrono::steady_clock::now();
      stash       = std::max(stash, s.peak_stash_bytes);
      if (it < 1) continue;  // primitive creation, first touches
      wall.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
      cpu.push_back(c1 - c0);
    }
    tensors = memory_stats(0).peak_bytes;  // every tensor the device held at once (Tensor's accounting)
  });
  fmt::print(
      "{{\"median_ms\": {}, \"cpu_median_ms\": {}, \"peak_rss_mb\": {}, \"peak_stash_mb\": {}, "
      "\"peak_tensor_mb\": {}}}\n",
      bench::median(wall), bench::median(cpu), peak_rss_mb(), static_cast<double>(stash) / 1e6,
      static_cast<double>(tensors) / 1e6);
  return 0;
}

std::string self_exe() {
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "bench_gpt2";
}

// Runs `cmd`, returns the last JSON object it printed (null when it failed; its output is printed).
nlohmann::json run_json(const std::string& cmd) {
  std::string out;
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return nullptr;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  int rc       = pclose(p);
  size_t brace = out.rfind('{');
  if (rc == 0 && brace != std::string::npos) try {
      return nlohmann::json::parse(out.substr(brace));
    } catch (const std::exception&) {
    }
  fmt::print("  child failed: {}\n{}\n", cmd, out);
  return nullptr;
}

std::string peer_cmd(const std::string& model, int threads, int steps, const std::string& core) {
  return fmt::format(
      "{} /usr/bin/python3 {} {} --batch 1 --runs {} --warmup 1 --optimizer adamw --threads {}",
      bench::peer_env(threads, core), bench::torch_step_script(), model, steps, threads);
}

// "" (unset) or "SkylakeX": whichever runs one step of a one-layer, T256 GPT-2-width model faster here.
std::string pick_coretype() {
  std::string best;
  double best_ms = -1;
  for (std::string core : {"", "SkylakeX"}) {
    auto j = run_json(peer_cmd("--model gpt --gpt 50257,256,768,12,1", 1, 1, core));
    if (j.is_null()) continue;
    double ms = j["median_ms"].get<double>();
    fmt::print("  peer probe: OPENBLAS_CORETYPE={} {:.0f} ms\n", core.empty() ? "(unset)" : core, ms);
    if (best_ms < 0 || ms < best_ms) best_ms = ms, best = core;
  }
  return best;
}

struct Samples {
  std::vector<double> ours, torch, ours_cpu, torch_cpu, ratio, ratio_cpu, bf16, bf16_ratio;
  std::vector<double> torch_bf16, torch_bf16_ratio,
      bf16_vs_torch;  // autocast: torch fp32 ÷ bf16, torch ÷ ours
  double ours_rss = 0, torch_rss = 0, stash_mb = 0, tensor_mb = 0;
};

std::string spread(const std::vector<double>& v, const char* f) {
  if (v.empty()) return "-";
  const auto [lo, hi] = std::minmax_element(v.begin(), v.end());
  return fmt::format(fmt::runtime(f), bench::median(v), *lo, *hi);
}

void one_round(Samples& s, int threads, int steps, const std::string& core, bool peer_first, bool bf16) {
  const std::string ours_cmd = fmt::format("{} --child --threads {} --steps {}", self_exe(), threads, steps);
  nlohmann::json o, t, b, tb;
  if (bf16) b = run_json(ours_cmd + " --precision bf16");
  if (bf16) tb = run_json(peer_cmd(kPeerModel, threads, steps, core) + " --autocast bf16");
  if (peer_first) t = run_json(peer_cmd(kPeerModel, threads, steps, core));
  o = run_json(ours_cmd);
  if (!peer_first) t = run_json(peer_cmd(kPeerModel, threads, steps, core));
  if (o.is_null() || t.is_null()) return;
  s.ours.push_back(o["median_ms"].get<double>() / 1e3);
  s.torch.push_back(t["median_ms"].get<double>() / 1e3);
  s.ours_cpu.push_back(o["cpu_median_ms"].get<double>() / 1e3);
  s.torch_cpu.push_back(t["cpu_median_ms"].get<double>() / 1e3);
  s.ratio.push_back(s.torch.back() / s.ours.back());
  s.ratio_cpu.push_back(s.torch_cpu.back() / s.ours_cpu.back());
  s.ours_rss  = std::max(s.ours_rss, o["peak_rss_mb"].get<double>());
  s.torch_rss = std::max(s.torch_rss, t["peak_rss_mb"].get<double>());
  s.stash_mb  = std::max(s.stash_mb, o["peak_stash_mb"].get<double>());
  s.tensor_mb = std::max(s.tensor_mb, o["peak_tensor_mb"].get<double>());
  if (b.is_null()) return;
  s.bf16.push_back(b["median_ms"].get<double>() / 1e3);
  s.bf16_ratio.push_back(s.ours.back() / s.bf16.back());
  if (tb.is_null()) return;
  s.torch_bf16.push_back(tb["median_ms"].get<double>() / 1e3);
  s.torch_bf16_ratio.push_back(s.torch.back() / s.torch_bf16.back());
  s.bf16_vs_torch.push_back(s.torch_bf16.back() / s.bf16.back());
}

void print(int threads, const Samples& s) {
  const char* sec = "{:.2f} [{:.2f}–{:.2f}]";
  fmt::print("{} thread(s), wall s        paraxis {:<22} torch {:<22} torch/paraxis {}\n", threads,
             spread(s.ours, sec), spread(s.torch, sec), spread(s.ratio, sec));
  if (threads == 1)
    fmt::print("1 thread(s), thread CPU s  paraxis {:<22} torch {:<22} torch/paraxis {}\n",
               spread(s.ours_cpu, sec), spread(s.torch_cpu, sec), spread(s.ratio_cpu, sec));
  fmt::print(
      "{} thread(s), peak RSS      paraxis {:.0f} MB{:<14} torch {:.0f} MB{:<14} torch/paraxis {:.2f}\n",
      threads, s.ours_rss, "", s.torch_rss, "", s.ours_rss > 0 ? s.torch_rss / s.ours_rss : 0.0);
  if (!s.bf16.empty())
    fmt::print("{} thread(s), wall s        paraxis --precision bf16 {}, fp32 / bf16 {}\n", threads,
               spread(s.bf16, sec), spread(s.bf16_ratio, sec));
  if (!s.torch_bf16.empty())
    fmt::print(
        "{} thread(s), wall s        torch autocast bf16 {}, fp32 / bf16 {}; torch bf16 / paraxis bf16 {}\n",
        threads, spread(s.torch_bf16, sec), spread(s.torch_bf16_ratio, sec), spread(s.bf16_vs_torch, sec));
  fmt::print("{} thread(s), paraxis activations kept for the backward: at most {:.0f} MB (measured)\n",
             threads, s.stash_mb);
  fmt::print(
      "{} thread(s), paraxis tensors held at once: at most {:.0f} MB (parameters, gradients, AdamW state, "
      "activations, logits and temporaries; measured); the other {:.0f} MB of its RSS: code, libraries, "
      "oneDNN's caches, freed blocks kept for reuse\n",
      threads, s.tensor_mb, s.ours_rss - s.tensor_mb);
}

std::vector<int> parse_list(const std::string& s) {
  std::vector<int> out;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, ',');) out.push_back(std::max(1, std::atoi(item.c_str())));
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  int rounds = 3, steps = 2;
  std::vector<int> threads{1, 2};
  std::string core      = "auto";
  std::string precision = "fp32";
  bool child = false, bf16 = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    const char* v = i + 1 < argc ? argv[i + 1] : "";
    if (a == "--child")
      child = true;
    else if (a == "--bf16")
      bf16 = true;
    else if (a == "--precision")
      precision = v, ++i;
    else if (a == "--rounds")
      rounds = std::max(1, std::atoi(v)), ++i;
    else if (a == "--steps")
      steps = std::max(1, std::atoi(v)), ++i;
    else if (a == "--threads")
      threads = parse_list(v), ++i;
    else if (a == "--coretype")
      core = v, ++i;
    else {
      fmt::print(stderr,
                 "bench_gpt2: unknown argument '{}'; use --rounds N --steps N --threads 1,2 --coretype auto "
                 "--bf16\n",
                 a);
      return 2;
    }
  }
  if (child) return run_ours(threads.front(), steps, precision);
  fmt::print(
      "bench_gpt2: GPT-2 small (V50257 T1024 C768 NH12 L12), batch 1, one training step (forward, loss, "
      "backward, AdamW); {} rounds, each side {} timed step(s) after 1 warm-up in its own process per round; "
      "load average {}\n",
      rounds, steps, bench::load_average());
  if (core == "auto") core = pick_coretype();
  if (core == "unset") core = "";
  fmt::print("peer: PyTorch, OPENBLAS_CORETYPE={}\n", core.empty() ? "(unset)" : core);
  std::vector<Samples> s(threads.size());
  for (int r = 0; r < rounds; ++r)
    for (size_t i = 0; i < threads.size(); ++i) one_round(s[i], threads[i], steps, core, r % 2 == 1, bf16);
  for (size_t i = 0; i < threads.size(); ++i) print(threads[i], s[i]);
  fmt::print("load average at the end {}\n", bench::load_average());
  return 0;
}
