// paraxis calibrate — measure this machine for the cost model: matmul rate by size, memory bandwidth, the
// rate when every device computes at once, and the threads backend's latency and bandwidth by message size.
//
//   paraxis calibrate -o machine.json          # ~90 s; then: paraxis plan ... --machine machine.json
//   paraxis calibrate --preset h100-sxm -o h100.json   # write a built-in preset as a file to edit
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <sstream>
#include <vector>

#include "cli/command.h"
#include "cli/model_flags.h"
#include "paraxis/comm/launch.h"
#include "paraxis/core/error.h"
#include "paraxis/core/safe_write.h"
#include "paraxis/cost/conv.h"
#include "paraxis/cost/hardware.h"
#include "paraxis/kernels/matmul.h"
#include "paraxis/kernels/precision.h"
#include "paraxis/measure/calibration.h"
#include "paraxis/measure/fixed_costs.h"
#include "paraxis/measure/measure.h"

namespace {

using namespace paraxis;
using namespace paraxis::cost;
using namespace paraxis::measure;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Best time of one call of f: repeated until `budget_s` has passed (at least 3 times); the minimum is the
// figure least disturbed by other work on a shared machine.
template <class F>
double best_time(F&& f, double budget_s) {
  f();  // warm-up: primitive creation, page faults
  double best = 1e30;
  auto start  = Clock::now();
  for (int i = 0; i < 3 || seconds_since(start) < budget_s; ++i) {
    auto t0 = Clock::now();
    f();
    best = std::min(best, seconds_since(t0));
    if (i > 10000) break;
  }
  return best;
}

double matmul_seconds(int64_t n, double budget_s) {
  std::vector<float> a(n * n, 1.0f), b(n * n, 0.5f), c(n * n);
  return best_time([&] { matmul(c.data(), a.data(), b.data(), n, n, n); }, budget_s);
}

// The row-rate table's Linear: `rows` rows against a weight of kWeightSide² floats, far larger than the
// caches.
constexpr int64_t kWeightSide = 4096;

// f() run as one device of the threads backend (pinned to a core, as `paraxis train` runs a device), so
// that the rates alone and together are measured alike.
template <class F>
auto pinned(F&& f) {
  decltype(f()) out{};
  run_devices(1, {}, [&](Communicator&) { out = f(); });
  return out;
}

const std::vector<int64_t> kRows = {16, 32, 64, 128, 256, 512};

std::string host_name() {
  char buf[256] = {0};
  gethostname(buf, sizeof(buf) - 1);
  return buf;
}

struct Flags {
  std::string out = "machine.json", preset;
  // The Linear shapes to measure: a model's layers (default: paraxis demo's MLP), their tensor-parallel
  // halves and micro-batch rows.
  std::string mlp_sizes = "784,3584,4096,4096,10", rows = "32,64,128,256", tp = "1,2";
  int rounds = 3;  // rounds of the "every core at once" measurements (median over them)
  // A CNN's convolution calls (none by default): its family, image, micro-batch samples and spatial sizes.
  std::string model, image, samples = "4,32", sp = "1";
};

std::vector<int64_t> positive_list(const std::string& text, const char* flag) {
  std::vector<int64_t> out;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    char* end   = nullptr;
    long long v = std::strtoll(item.c_str(), &end, 10);
    PX_USER_CHECK(!item.empty() && *end == '\0' && v > 0,
                  "{} {}: '{}' is not a positive integer; e.g. {} 32,128", flag, text, item, flag);
    out.push_back(v);
  }
  PX_USER_CHECK(!out.empty(), "{} is empty; e.g. {} 32,128", flag, flag);
  return out;
}

// Square matmuls (the profile's peak), the bf16 speedup, and every core at once.
void measure_matmuls(HardwareProfile& hw, int cores) {
  fmt::print("matmul (oneDNN f32, one thread), best of repeated runs:\n");
  for (int64_t n : {16, 32, 64, 128, 256, 384, 512, 768, 1024}) {
    const double flops = 2.0 * n * n * n;
    const double s     = matmul_seconds(n, 0.15);
    hw.matmul_rates.push_back({flops, flops / s});
    fmt::print("  {:>5}^3  {:>10.4g} GFLOP/s\n", n, flops / s / 1e9);
  }
  hw.peak_flops          = hw.matmul_rates.back().flops_per_s;
  hw.bf16_matmul_speedup = bf16_matmul_speedup();
  fmt::print("  bf16 matmul (1024^3, bf16 inputs, fp32 accumulation): {:.2f}x the fp32 rate ({})\n",
             hw.bf16_matmul_speedup, describe_bf16_support());

  if (cores >= 2) {
    // Every core a device at once (as `paraxis train` runs devices): the shared caches and memory slow
    // each a little.
    std::vector<double> rate(cores);
    DeviceOptions opt;
    run_devices(cores, opt, [&](Communicator& comm) {
      const int64_t n = 512;
      comm.barrier();
      const double s    = matmul_seconds(n, 0.5);
      rate[comm.rank()] = 2.0 * n * n * n / s;
    });
    double alone = matmul_seconds(512, 0.3), mean = 0;
    for (double r : rate) mean += r / cores;
    hw.concurrent_efficiency = std::min(1.0, mean / (2.0 * 512 * 512 * 512 / alone));
    fmt::print("  {} devices at once: {:.4g} GFLOP/s each ({:.0f}% of one alone)\n", cores, mean / 1e9,
               hw.concurrent_efficiency * 100);
  }
}

// The square layer's passes on kRows rows, alone and (cores >= 2) all at once in rounds.
void measure_row_rates(HardwareProfile& hw, int cores, int rounds) {
  fmt::print("layer passes on R rows x {0}x{0} weight (GFLOP/s: forward, input grad, weight grad):\n",
             kWeightSide);
  for (int64_t rows : kRows) {
    hw.row_rates.push_back(pinned(
        [&] { return rates_of(measure_layer_times(rows, kWeightSide, kWeightSide, rows <= 64 ? 5 : 3)); }));
    const RowRatePoint& p = hw.row_rates.back();
    fmt::print("  {:>4} rows  alone   {:>7.4g} {:>7.4g} {:>7.4g}\n", rows, p.forward / 1e9,
               p.backward_input / 1e9, p.backward_weight / 1e9);
  }
  if (cores >= 2) {
    // Every core a device running the same pass at once: they share the memory system.
    // In rounds (the median of each rate over them): on a shared host the speed of two busy cores
    // swings by ±30% over seconds, so one pass of the sweep would give each size a random phase.
    std::vector<std::vector<PassTimes>> each(cores);
    run_devices(cores, {}, [&](Communicator& comm) {
      for (int r = 0; r < rounds; ++r)
        for (int64_t rows : kRows)
          each[comm.rank()].push_back(
              measure_layer_times(rows, kWeightSide, kWeightSide, 3, [&] { comm.barrier(); }));
    });
    for (size_t i = 0; i < kRows.size(); ++i) {
      std::vector<RowRatePoint> per_round;
      for (int r = 0; r < rounds; ++r) per_round.push_back(lockstep_of(each, r * kRows.size() + i));
      const RowRatePoint mean = median_rates(per_round);
      hw.row_rates_concurrent.push_back(mean);
      fmt::print("  {:>4} rows  {} at once {:>7.4g} {:>7.4g} {:>7.4g} (lockstep)\n", kRows[i], cores,
                 mean.forward / 1e9, mean.backward_input / 1e9, mean.backward_weight / 1e9);
    }
  }
}

// The model's own Linear shapes (the rate depends on the shape, not only on the rows).
void measure_model_shapes(HardwareProfile& hw, const Flags& f, const std::vector<int64_t>& sizes,
                          const std::vector<int64_t>& rows_list, const std::vector<int64_t>& tps, int cores) {
  const auto shapes = mlp_linear_shapes(sizes, tps);
  fmt::print(
      "layer passes of --mlp-sizes {} (GFLOP/s: forward, input grad, weight grad; alone | {} "
      "devices taking turns | {} at once, lockstep; each the median over {} rounds):\n",
      f.mlp_sizes, cores, cores, f.rounds);
  const ShapeRates measured = measure_shape_rates(shapes, rows_list, f.rounds, cores);
  for (const ShapeRatePoint& p : measured.points) {
    hw.shape_rates.push_back(p);
    auto three = [](const RowRatePoint& r) {
      return fmt::format("{:>6.4g} {:>6.4g} {:>6.4g}", r.forward / 1e9, r.backward_input / 1e9,
                         r.backward_weight / 1e9);
    };
    fmt::print("  {:>4} x {:>5} -> {:>5}  {} | {} | {}\n", p.rows, p.in, p.out, three(p.alone),
               three(p.turns), three(p.together));
  }
  if (!measured.unsteady.empty())
    fmt::print(
        "notice: the rounds disagreed by more than 25% for {} of {} measurements ({}): "
        "the machine's speed changed during the calibration (another job, or a shared host); the "
        "median round is kept. For steadier figures re-run on a quiet machine or with --rounds 5.\n",
        measured.unsteady.size(), measured.measurements, fmt::join(measured.unsteady, ", "));
}

// The convolution calls of --model cnn|alexnet (--image) on each --samples micro-batch, and under each --sp
// every member's window: the calls cost/conv.h looks up. Checked before anything is measured (exit 2).
std::vector<Conv2dShape> model_conv_calls(const Flags& f, ModelSpec& spec) {
  PX_USER_CHECK(f.model == "cnn" || f.model == "alexnet",
                "--model {}: calibrate measures the convolutions of cnn or alexnet (an mlp's Linears: "
                "--mlp-sizes); e.g. --model cnn --image 3,128,128",
                f.model);
  spec = f.model == "alexnet" ? ModelSpec::alexnet() : ModelSpec::cnn();
  if (!f.image.empty()) spec.image = cli::parse_image(f.image);
  cli::validate_model_spec(spec);
  const ModelDesc model = describe_model(spec);
  std::vector<Conv2dShape> calls;
  for (int64_t n : positive_list(f.samples, "--samples"))
    for (int64_t sp : positive_list(f.sp, "--sp")) {
      Layout l;
      l.sp                      = static_cast<int>(sp);
      const std::string problem = layout_problem(model, l, n);
      PX_USER_CHECK(problem.empty(), "--samples {} with --sp {}: {}", n, sp, problem);
      for (const Conv2dShape& c : conv_calls(model, l, static_cast<double>(n)))
        if (std::find(calls.begin(), calls.end(), c) == calls.end()) calls.push_back(c);
    }
  return calls;
}

// Those calls' rates, alone, in turns and at once (the median over the rounds).
void measure_model_convs(HardwareProfile& hw, const Flags& f, const ModelSpec& spec,
                         const std::vector<Conv2dShape>& calls, int cores) {
  fmt::print(
      "convolutions of --model {} {} (GFLOP/s: forward, input grad, weight grad; alone | {} devices taking "
      "turns | {} at once; each the median over {} rounds):\n",
      f.model, fmt::join(spec.image, "x"), cores, cores, f.rounds);
  hw.conv_rates = measure_shape_rates({}, {}, f.rounds, cores, calls).convs;
  for (const ConvRatePoint& p : hw.conv_rates) {
    const Conv2dShape& c = p.call;
    auto three           = [](const RowRatePoint& r) {
      return fmt::format("{:>6.4g} {:>6.4g} {:>6.4g}", r.forward / 1e9, r.backward_input / 1e9,
                                   r.backward_weight / 1e9);
    };
    fmt::print("  {:>3} x {}x{}x{} k{} s{} p{} -> {}  {} | {} | {}\n", c.n, c.cin, c.h, c.w, c.k, c.stride,
               c.pad, c.cout, three(p.alone), three(p.turns), three(p.together));
  }
}

// Memory bandwidth, alone and (cores >= 2) at once.
void measure_memory(HardwareProfile& hw, int rounds, int cores) {
  const Bandwidth bw  = measure_memory_bandwidth(rounds, cores);
  hw.memory_bandwidth = bw.alone;
  fmt::print(
      "memory: in-place update of 3 x 64 MiB from memory, one thread: {:.4g} GB/s (reads + "
      "writes)\n",
      hw.memory_bandwidth / 1e9);
  if (cores >= 2) {
    hw.memory_bandwidth_concurrent = bw.together;
    fmt::print("        {} devices at once: {:.4g} GB/s each (lockstep, the median over {} rounds)\n", cores,
               hw.memory_bandwidth_concurrent / 1e9, rounds);
  }
}

// The threads backend's link and the runtime's fixed costs (priced with the rates measured before).
void measure_link_and_fixed_costs(HardwareProfile& hw, int rounds) {
  fmt::print("threads backend, 2 devices (time per call):\n");
  LinkProfile& link = hw.intra_node;
  link              = measure_threads_link([](const MessagePoint& p2p, const MessagePoint& ar) {
    fmt::print(
                     "  {:>10} B   p2p {:>9.3g} us ({:>6.3g} GB/s)   all-reduce {:>9.3g} us (busbw {:>6.3g} "
                                  "GB/s)\n",
                     p2p.bytes, p2p.seconds * 1e6, p2p.bytes / p2p.seconds / 1e9, ar.seconds * 1e6,
                     ar.bytes / ar.seconds / 1e9);
  });
  link.source = fmt::format("measured by paraxis calibrate on {} (threads backend, 2 devices)", host_name());
  hw.inter_node = link;
  {
    // The runtime's fixed costs, from the engine on tiny MLPs priced with the rates above.
    std::vector<std::vector<double>> per_round;
    for (int r = 0; r < rounds; ++r) per_round.push_back(measure_tiny_steps());
    std::vector<double> tiny(per_round.front().size());
    for (size_t i = 0; i < tiny.size(); ++i) {
      std::vector<double> each;
      for (const auto& r : per_round) each.push_back(r[i]);
      tiny[i] = median_value(each);
    }
    const measure::FixedCosts fixed = measure::solve_fixed_costs(hw, tiny);
    hw.kernel_overhead_s            = fixed.kernel_s;
    hw.action_overhead_s            = fixed.action_s;
    hw.step_overhead_s              = fixed.step_s;
    fmt::print("fixed costs: {} (the median over {} rounds)\n", measure::fixed_costs_summary(fixed), rounds);
  }
}

const bool registered = cli::register_command(
    {"calibrate", "Measure this machine (matmul rates, memory and backend bandwidth) for the cost model",
     [](CLI::App& sub) -> cli::Runner {
       auto f = std::make_shared<Flags>();
       sub.add_option("-o,--output", f->out, "where to write the JSON profile")->capture_default_str();
       sub.add_option("--preset", f->preset, "write this built-in preset instead of measuring");
       sub.add_option("--mlp-sizes", f->mlp_sizes, "measure the Linear passes of this MLP's layers")
           ->capture_default_str();
       sub.add_option("--rows", f->rows, "... on these micro-batch rows")->capture_default_str();
       sub.add_option("--tp", f->tp, "... and their shards at these tensor-parallel sizes")
           ->capture_default_str();
       sub.add_option("--model", f->model,
                      "also measure the convolutions of this CNN (cnn or alexnet) for its predictions");
       sub.add_option("--image", f->image, "... on input images C,H,W (default: the family's)");
       sub.add_option("--samples", f->samples, "... on micro-batches of these many samples")
           ->capture_default_str();
       sub.add_option("--sp", f->sp, "... and each member's slab at these spatial-parallel sizes")
           ->capture_default_str();
       sub.add_option(
              "--rounds", f->rounds,
              "rounds of the measurements (the shapes alone and every core at once, alternating), spread "
              "over the run; each rate is the median over them")
           ->capture_default_str();
       return [f] {
         check_output_path("-o", f->out);  // before ~90 s of measuring
         if (!f->preset.empty()) {
           save_hardware(hardware_preset(f->preset), f->out);
           fmt::print("wrote preset {} to {}\n", f->preset, f->out);
           return 0;
         }
         const std::vector<int64_t> sizes     = cli::parse_mlp_sizes(f->mlp_sizes);
         const std::vector<int64_t> rows_list = positive_list(f->rows, "--rows"),
                                    tps       = positive_list(f->tp, "--tp");
         PX_USER_CHECK(f->rounds >= 1 && f->rounds <= 99,
                       "--rounds {}: must be between 1 and 99 (3 takes ~20 s more than 1); e.g. --rounds 3",
                       f->rounds);
         ModelSpec spec;
         const std::vector<Conv2dShape> convs =
             f->model.empty() ? std::vector<Conv2dShape>{} : model_conv_calls(*f, spec);
         const auto t_all = Clock::now();
         HardwareProfile hw;
         hw.name              = "calibrated " + host_name();
         hw.dtype             = "fp32";
         hw.bytes_per_element = 4;
         set_kernel_threads(1);

         const int cores = static_cast<int>(available_cores().size());
         measure_matmuls(hw, cores);
         measure_row_rates(hw, cores, f->rounds);
         measure_model_shapes(hw, *f, sizes, rows_list, tps, cores);
         if (!f->model.empty()) measure_model_convs(hw, *f, spec, convs, cores);
         measure_memory(hw, f->rounds, cores);
         hw.memory_bytes     = static_cast<double>(sysconf(_SC_PHYS_PAGES)) * sysconf(_SC_PAGE_SIZE);
         hw.devices_per_node = std::max(1, cores);

         measure_link_and_fixed_costs(hw, f->rounds);
         hw.source = fmt::format(
             "measured by paraxis calibrate on {}: oneDNN f32 matmul one thread, memcpy, "
             "threads backend",
             host_name());
         save_hardware(hw, f->out);
         fmt::print("wrote {} ({:.1f} s)\n", f->out, seconds_since(t_all));
         return 0;
       };
     }});

}  // namespace
