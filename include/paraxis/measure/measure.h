// The measurements behind a hardware profile's Linear-shape rates and memory bandwidth (`paraxis calibrate`
// writes them into machine.json): the kernels the layers call, timed as the engine runs them.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "paraxis/comm/communicator.h"
#include "paraxis/cost/hardware.h"
#include "paraxis/cost/planner.h"
#include "paraxis/measure/calibration.h"

namespace paraxis::measure {

using cost::ConvRatePoint;
using cost::HardwareProfile;
using cost::LinearCalls;
using cost::LinkProfile;
using cost::MessagePoint;
using cost::ShapeRatePoint;

// Bytes that must be touched between two uses of a buffer for it to come from memory, not the last-level
// cache (1.5 × its size): a training step's weights, gradients and optimizer state exceed it, so a layer
// reads its weight cold.
double cache_flush_bytes();

// How many timed calls a measurement of `flops` per call makes: 3 for the large calls (their median is
// steady), up to 15 for calls of a few Mflop, whose single times swing (at 32 rows, two devices in lockstep
// once measured 23 and 50 GFLOP/s for the same pass in neighbouring calls). A function of the shape alone, so
// devices measuring at once make the same calls.
int calls_for(double flops);

// The three passes of a Linear layer (the kernels the layers call) on `rows` rows, in → out features: the
// seconds of each of `reps` calls (0: calls_for the call's flops) after a warm-up. Each call uses the next of
// several 64-byte aligned buffer sets that together span `reuse_bytes` (0: cache_flush_bytes(), so the weight
// and its gradient come from memory, as in training a model larger than the cache); a model whose working set
// is smaller gives its reuse distance (LinearCalls::reuse_bytes), and one set repeated measures the call with
// its operands in cache, as the run makes it. `sync` runs before every call, warm-ups included (a barrier
// when several devices measure at once, so that they really run together; a wait for the device's turn when
// they take turns).
PassTimes measure_layer_times(
    int64_t rows, int64_t in, int64_t out, int reps = 0, const std::function<void()>& sync = [] {},
    double reuse_bytes = 0);

// The same for a convolution call (kernels/conv.h): forward, input gradient (backward data) and weight
// gradient, each on its own buffer sets spanning `reuse_bytes`; rows = s.n, flops = conv_call_flops(s).
PassTimes measure_conv_times(
    const Conv2dShape& s, int reps = 0, const std::function<void()>& sync = [] {}, double reuse_bytes = 0);
// 2 · N · Cout · OH · OW · Cin · K²: the multiply-adds of one pass of the call, counted twice.
double conv_call_flops(const Conv2dShape& s);

// How many buffer sets of `set_bytes` (a Linear's buffers of all three passes) measure_layer_times cycles to span `reuse_bytes` (0: the
// cache flush): at least 1 (2 when flushing), at most 32.
int buffer_sets(double set_bytes, double reuse_bytes);

// The bf16 ÷ fp32 rate of an n³ matmul on the calling thread (bf16 inputs, fp32 accumulation, as
// `--precision bf16` runs its products; below 1 where oneDNN emulates bf16): the best call of each precision
// over `rounds` interleaved rounds. HardwareProfile::bf16_matmul_speedup; cost/precision.h prices with it.
double bf16_matmul_speedup(int64_t n = 1024, int rounds = 3);

// Devices taking turns one call at a time (ShapeRatePoint::turns): slot k of a sequence of barriers belongs
// to device k mod n. Before each of its calls a device passes barriers until its slot comes, so one device
// computes while the others wait at the next barrier, as a pipeline's idle stages wait for their input.
//   TakeTurns turns(comm);
//   for (int i = 0; i < calls; ++i) { turns.before_call(); call(); }
//   turns.finish(calls);  // every device passes the same barriers
class TakeTurns {
 public:
  explicit TakeTurns(Communicator& comm) : comm_(comm) {}
  void before_call();
  void finish(int64_t calls_each);  // after the last call; every device made calls_each calls

 private:
  Communicator& comm_;
  int64_t slot_ = 0;  // barriers passed
};

// (in, out) of each Linear of the MLP `sizes` and, for each tp, of its Megatron shards: Linears pair up
// column-parallel (outputs split) then row-parallel (inputs split); an odd last one stays whole (as
// describe_model splits them). Each shape once.
std::vector<std::pair<int64_t, int64_t>> mlp_linear_shapes(const std::vector<int64_t>& sizes,
                                                           const std::vector<int64_t>& tps);

struct ShapeRates {
  std::vector<ShapeRatePoint> points;  // shape-major, rows-minor
  std::vector<ConvRatePoint> convs;    // the convolution calls, in the order asked
  // "ROWSxIN->OUT alone|in turns|at once NN%" (a convolution: "conv NxCINxHxW kK sS pP->COUT ...") for each measurement whose rounds disagreed by more than 25%
  // (calls of at least 50 Mflop only: smaller ones swing widely and cost nothing).
  std::vector<std::string> unsteady;
  size_t measurements = 0;  // how many (shape, rows, alone | in turns | at once) figures were taken
};

// The same in rounds that the caller spaces out (`paraxis demo --calibrate` measures one before each round of
// its layouts, so that the rates and the training steps sample the same stretch of the machine's drift).
class ShapeRateRounds {
 public:
  // `in_turns(in, out, rows)`: which calls are also measured with the devices taking turns (null: every
  // call). Only pipelines use those rates, and they take as long as the other two measurements together.
  // `conv_in_turns(call)`: the same for the convolution calls `convs` (null: every call).
  using TurnsFilter     = std::function<bool(int64_t in, int64_t out, int64_t rows)>;
  using ConvTurnsFilter = std::function<bool(const Conv2dShape& call)>;
  ShapeRateRounds(std::vector<std::pair<int64_t, int64_t>> shapes, std::vector<int64_t> rows, int devices,
                  const TurnsFilter& in_turns = nullptr, double reuse_bytes = 0,
                  std::vector<Conv2dShape> convs = {}, const ConvTurnsFilter& conv_in_turns = nullptr);
  // Every shape on every rows, then every convolution call: alone (one device), then with devices ≥ 2 the devices taking turns (one call
  // each while the others wait; the rates of every device's calls pooled; the calls `in_turns` selects) and
  // all at once in lockstep.
  void measure_round();
  ShapeRates result() const;  // each rate the median over the rounds so far (at least one)
  int rounds() const { return rounds_; }

 private:
  std::vector<std::pair<int64_t, int64_t>> shapes_;
  std::vector<int64_t> rows_;
  std::vector<Conv2dShape> convs_;
  int devices_ = 1, rounds_ = 0;
  double reuse_bytes_ = 0;                     // measure_layer_times' reuse distance (0: flush the cache)
  std::vector<PassTimes> alone_;               // round-major, then shapes, then rows, then convs
  std::vector<std::vector<PassTimes>> each_;   // at once: [device][the same order]
  std::vector<std::vector<PassTimes>> turns_;  // in turns: [device][the same order, the selected calls]
  std::vector<bool> in_turns_;                 // per call (shape and rows, or conv): measured in turns
  size_t turns_per_round_ = 0;
  size_t calls() const { return shapes_.size() * rows_.size() + convs_.size(); }
  // The k-th call (a Linear shape on some rows, then the convolutions): measured, and named for notices.
  PassTimes measure_call(size_t k, const std::function<void()>& sync) const;
  std::string call_name(size_t k) const;
};

// Every shape on every rows and every convolution call: alone (one device pinned to its core, as `paraxis
// train` runs one) and, when devices ≥ 2, on `devices` devices taking turns and at once in lockstep (per
// call the slowest device). `rounds` rounds that alternate alone and at once; each rate is the median over
// them.
ShapeRates measure_shape_rates(const std::vector<std::pair<int64_t, int64_t>>& shapes,
                               const std::vector<int64_t>& rows, int rounds, int devices,
                               const std::vector<Conv2dShape>& convs = {});

// Memory bandwidth of the optimizer's access pattern (an in-place momentum update streaming 3 × 64 MiB, from
// memory), counted as reads + writes: alone, and (devices ≥ 2) the median over `rounds` of the lockstep
// figure with `devices` devices at once (0 when not measured).
struct Bandwidth {
  double alone = 0, together = 0;
};
Bandwidth measure_memory_bandwidth(int rounds, int devices);

// The threads backend between 2 devices: p2p and all-reduce time per call for 64 B … 64 MiB (the best of
// repeated calls), α from the smallest message, β from the largest. `on_size(p2p, all_reduce)` after each
// size.
LinkProfile measure_threads_link(
    const std::function<void(const MessagePoint&, const MessagePoint&)>& on_size = nullptr);

// The rates a prediction uses, measured in the run it predicts (`paraxis demo`, `paraxis train --predict`),
// in rounds the caller spaces out over the run (before each round of the demo's layouts; before and after a
// training): each round the Linear and convolution calls' rates alone and with `devices` devices at once (ShapeRateRounds)
// and the memory bandwidth; profile() takes each figure's median over the rounds. Rates and training steps
// then sample the same stretch of this shared host's drift: a calibration taken minutes before a demo once
// ran entirely in a fast phase and put every layout 10–28% fast.
class RunCalibration {
 public:
  RunCalibration(const LinearCalls& calls, int devices);
  double measure_round();  // one round; returns its seconds
  int rounds() const { return shapes_.rounds(); }
  // `hw` with the measured Linear and convolution rates and bandwidths, the runtime's fixed costs (kernel call, action, step:
  // measure/fixed_costs.h, each tiny step's median over the rounds) and, when `link`, the threads backend's
  // link between 2 devices measured now (`how` names the command in the link's source). `unsteady` gets a notice when
  // rounds disagreed by more than 25% ("" otherwise).
  HardwareProfile profile(HardwareProfile hw, bool link, const std::string& how, std::string& unsteady) const;

 private:
  ShapeRateRounds shapes_;
  int devices_ = 1;
  std::vector<double> bandwidth_alone_, bandwidth_together_;
  std::vector<std::vector<double>> tiny_steps_;  // per round: the fixed-cost steps (fixed_costs.h)
};

}  // namespace paraxis::measure
