#include "paraxis/measure/measure.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>

#include "measure/timed_calls.h"
#include "paraxis/comm/launch.h"
#include "paraxis/core/error.h"
#include "paraxis/core/tensor.h"
#include "paraxis/kernels/linear.h"
#include "paraxis/measure/fixed_costs.h"

namespace paraxis::measure {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Buffers are the engine's own tensors (64-byte aligned, core/tensor.cc): a std::vector's data sits 16 bytes
// off a cache line, and oneDNN's weight gradient writing rows that straddle lines ran 15–30% slower at 256
// rows (3584 → 4096: 84–106 against 112–121 GFLOP/s aligned), which made the model's weight passes too slow.
// One set of a Linear pass's buffers. (rows, in) x, (in → out) w, …
struct LayerBuffers {
  Tensor x, w, bias, y, dy, dx, dw, db;
  std::vector<uint16_t>
      w_bf16;  // bf16 runs: w as the forward rounds it, read by the input pass (as Linear does)
  LayerBuffers(int64_t rows, int64_t in, int64_t out)
      : x(Tensor::full({rows, in}, 0.5f)),
        w(Tensor::full({out, in}, 0.01f)),
        bias(Tensor::zeros({out})),
        y(Tensor::empty({rows, out})),
        dy(Tensor::full({rows, out}, 0.5f)),
        dx(Tensor::empty({rows, in})),
        dw(Tensor::zeros({out, in})),
        db(Tensor::zeros({out})),
        w_bf16(linear_rounds_weights() ? static_cast<size_t>(out * in) : 0) {}
};

// Every device's calls of the k-th measurement together (each[device][k]): the rates of the median call.
RowRatePoint pooled_rates(const std::vector<std::vector<PassTimes>>& each, size_t k) {
  PassTimes all = each[0][k];
  for (size_t d = 1; d < each.size(); ++d)
    for (int pass = 0; pass < 3; ++pass)
      all.pass[pass].insert(all.pass[pass].end(), each[d][k].pass[pass].begin(), each[d][k].pass[pass].end());
  return rates_of(all);
}

}  // namespace

void TakeTurns::before_call() {
  do comm_.barrier();
  while (slot_++ % comm_.size() != comm_.rank());
}

void TakeTurns::finish(int64_t calls_each) {
  for (; slot_ < calls_each * comm_.size(); ++slot_) comm_.barrier();
}

double cache_flush_bytes() {
  const long llc = sysconf(_SC_LEVEL3_CACHE_SIZE);
  return 1.5 * static_cast<double>(llc > 0 ? llc : 64L << 20);
}

int calls_for(double flops) {
  return static_cast<int>(std::clamp(std::ceil(4e9 / std::max(flops, 1.0)), 3.0, 15.0));
}

int buffer_sets(double set_bytes, double reuse_bytes) {
  const bool flush  = reuse_bytes <= 0;
  const double span = flush ? cache_flush_bytes() : reuse_bytes;
  return static_cast<int>(std::clamp(std::ceil(span / set_bytes), flush ? 2.0 : 1.0, 32.0));
}

PassTimes measure_layer_times(int64_t rows, int64_t in, int64_t out, int reps,
                              const std::function<void()>& sync, double reuse_bytes) {
  if (reps <= 0) reps = calls_for(2.0 * rows * in * out);
  const double set_bytes = 4.0 * (2.0 * rows * in + 2.0 * in * out + 2.0 * rows * out);
  const int sets         = buffer_sets(set_bytes, reuse_bytes);
  std::vector<LayerBuffers> buf;
  for (int i = 0; i < sets; ++i) buf.emplace_back(rows, in, out);
  int next  = 0;
  auto time = [&](auto&& f) { return timed_calls(buf, next, reps, sync, f); };
  PassTimes p;
  p.rows    = static_cast<double>(rows);
  p.flops   = 2.0 * rows * in * out;
  p.pass[0] = time([&](LayerBuffers& b) {
    linear_forward(b.y.data(), b.x.data(), b.w.data(), b.bias.data(), rows, in, out, b.w_bf16.data());
  });
  p.pass[1] = time([&](LayerBuffers& b) {
    linear_backward_input(b.dx.data(), b.dy.data(), b.w.data(), rows, in, out, b.w_bf16.data());
  });
  p.pass[2] = time([&](LayerBuffers& b) {
    linear_backward_weight(b.dw.data(), b.db.data(), b.dy.data(), b.x.data(), rows, in, out);
  });
  return p;
}

std::vector<std::pair<int64_t, int64_t>> mlp_linear_shapes(const std::vector<int64_t>& sizes,
                                                           const std::vector<int64_t>& tps) {
  std::vector<std::pair<int64_t, int64_t>> out;
  PX_CHECK(sizes.size() >= 2, "an MLP needs at least two widths");
  const size_t layers = sizes.size() - 1;
  for (int64_t tp : tps)
    for (size_t i = 0; i < layers; ++i) {
      int64_t in = sizes[i], o = sizes[i + 1];
      const bool paired = (i % 2 == 0) ? i + 1 < layers : true;
      if (tp > 1 && paired) (i % 2 == 0 ? o : in) /= tp;
      if (std::find(out.begin(), out.end(), std::make_pair(in, o)) == out.end()) out.push_back({in, o});
    }
  return out;
}

ShapeRateRounds::ShapeRateRounds(std::vector<std::pair<int64_t, int64_t>> shapes, std::vector<int64_t> rows,
                                 int devices, const TurnsFilter& in_turns, double reuse_bytes,
                                 std::vector<Conv2dShape> convs, const ConvTurnsFilter& conv_in_turns)
    : shapes_(std::move(shapes)),
      rows_(std::move(rows)),
      convs_(std::move(convs)),
      devices_(devices),
      reuse_bytes_(reuse_bytes),
      each_(std::max(devices, 1)),
      turns_(std::max(devices, 1)) {
  for (auto [in, out] : shapes_)
    for (int64_t r : rows_) in_turns_.push_back(devices_ >= 2 && (!in_turns || in_turns(in, out, r)));
  for (const Conv2dShape& c : convs_)
    in_turns_.push_back(devices_ >= 2 && (!conv_in_turns || conv_in_turns(c)));
  for (bool t : in_turns_) turns_per_round_ += t;
}

PassTimes ShapeRateRounds::measure_call(size_t k, const std::function<void()>& sync) const {
  const size_t linear = shapes_.size() * rows_.size();
  if (k >= linear) return measure_conv_times(convs_[k - linear], 0, sync, reuse_bytes_);
  const auto [in, out] = shapes_[k / rows_.size()];
  return measure_layer_times(rows_[k % rows_.size()], in, out, 0, sync, reuse_bytes_);
}

std::string ShapeRateRounds::call_name(size_t k) const {
  const size_t linear = shapes_.size() * rows_.size();
  if (k < linear) {
    const auto [in, out] = shapes_[k / rows_.size()];
    return fmt::format("{}x{}->{}", rows_[k % rows_.size()], in, out);
  }
  const Conv2dShape& c = convs_[k - linear];
  return fmt::format("conv {}x{}x{}x{} k{} s{} p{}->{}", c.n, c.cin, c.h, c.w, c.k, c.stride, c.pad, c.cout);
}

void ShapeRateRounds::measure_round() {
  // Alone then at once, so both sample the same stretch of the machine's drift (a whole calibration once ran
  // at 70% of the usual single-core speed; within another, one shape measured at 73 and the next at 141
  // GFLOP/s alone).
  run_devices(1, {}, [&](Communicator&) {
    for (size_t k = 0; k < calls(); ++k) alone_.push_back(measure_call(k, [] {}));
  });
  if (devices_ >= 2) {
    run_devices(devices_, {}, [&](Communicator& comm) {
      for (size_t k = 0; k < calls(); ++k) {
        if (!in_turns_[k]) continue;
        TakeTurns turns(comm);
        PassTimes t = measure_call(k, [&] { turns.before_call(); });
        turns.finish(3 * (1 + static_cast<int64_t>(t.pass[0].size())));  // warm-up + timed, per pass
        turns_[comm.rank()].push_back(std::move(t));
      }
    });
    run_devices(devices_, {}, [&](Communicator& comm) {
      for (size_t k = 0; k < calls(); ++k)
        each_[comm.rank()].push_back(measure_call(k, [&] { comm.barrier(); }));
    });
  }
  ++rounds_;
}

ShapeRates ShapeRateRounds::result() const {
  PX_CHECK(rounds_ >= 1, "shape rates of no rounds");
  const bool together = devices_ >= 2;
  ShapeRates result;
  const size_t per_round = calls(), linear = shapes_.size() * rows_.size();
  result.measurements = (together ? 2 : 1) * per_round + turns_per_round_;
  size_t t            = 0;  // the call's index among those measured in turns
  for (size_t k = 0; k < per_round; ++k) {
    const bool matters    = alone_[k].flops >= 5e7;
    auto median_of_rounds = [&](auto&& round_rates, const char* how, size_t index, size_t count) {
      std::vector<RowRatePoint> v;
      for (int r = 0; r < rounds_; ++r) v.push_back(round_rates(r * count + index));
      const double spread = round_spread(v);
      if (spread > 0.25 && matters)
        result.unsteady.push_back(fmt::format("{} {} {:.0f}%", call_name(k), how, 100 * spread));
      return median_rates(v);
    };
    RowRatePoint alone =
        median_of_rounds([&](size_t i) { return rates_of(alone_[i]); }, "alone", k, per_round);
    RowRatePoint at_once, in_turns;
    if (together)
      at_once = median_of_rounds([&](size_t i) { return lockstep_of(each_, i); }, "at once", k, per_round);
    if (in_turns_[k])
      in_turns = median_of_rounds([&](size_t i) { return pooled_rates(turns_, i); }, "in turns", t++,
                                  turns_per_round_);
    if (k >= linear) {
      result.convs.push_back({convs_[k - linear], alone, at_once, in_turns});
      continue;
    }
    const auto [in, out] = shapes_[k / rows_.size()];
    ShapeRatePoint p;
    p.rows = static_cast<double>(rows_[k % rows_.size()]), p.in = static_cast<double>(in);
    p.out = static_cast<double>(out), p.alone = alone, p.together = at_once, p.turns = in_turns;
    result.points.push_back(p);
  }
  return result;
}

ShapeRates measure_shape_rates(const std::vector<std::pair<int64_t, int64_t>>& shapes,
                               const std::vector<int64_t>& rows, int rounds, int devices,
                               const std::vector<Conv2dShape>& convs) {
  PX_CHECK(rounds >= 1, "measure_shape_rates: {} rounds", rounds);
  ShapeRateRounds m(shapes, rows, devices, nullptr, 0, convs);
  for (int r = 0; r < rounds; ++r) m.measure_round();
  return m.result();
}

Bandwidth measure_memory_bandwidth(int rounds, int devices) {
  // The optimizer's access pattern: an in-place update streaming three arrays of 16 Mi floats (param,
  // momentum, gradient: 3 reads and 3 writes of the same lines, so no write-allocate traffic that a memcpy to
  // another buffer adds), over sets that together exceed the last-level cache (a training step's state does
  // not fit it either); the median over the sets, counted as reads + writes.
  const int64_t n   = int64_t{16} << 20;
  const int sets    = static_cast<int>(std::clamp(std::ceil(cache_flush_bytes() / (12.0 * n)), 1.0, 8.0));
  auto stream_times = [&](const std::function<void()>& sync) {
    std::vector<Tensor> p, m, g;
    for (int i = 0; i < sets; ++i) {
      p.push_back(Tensor::full({n}, 1.0f));
      m.push_back(Tensor::zeros({n}));
      g.push_back(Tensor::full({n}, 0.5f));
    }
    std::vector<double> t;
    for (int i = 0; i < 3 * sets; ++i) {
      float *pp = p[i % sets].data(), *mm = m[i % sets].data(), *gg = g[i % sets].data();
      sync();
      auto t0 = Clock::now();
#pragma omp simd
      for (int64_t k = 0; k < n; ++k) {
        const float v = 0.9f * mm[k] + gg[k];
        mm[k]         = v;
        pp[k] -= 1e-3f * v;
        gg[k] = 0.0f;
      }
      t.push_back(seconds_since(t0));
      gg[i % n] = 0.5f;  // keep the loop from being folded away across repetitions
    }
    return t;
  };
  const double bytes = 6.0 * 4.0 * static_cast<double>(n);
  Bandwidth out;
  run_devices(1, {}, [&](Communicator&) { out.alone = bytes / median_value(stream_times([] {})); });
  if (devices >= 2) {
    // The median over rounds of the lockstep bandwidth (per update the slowest device).
    std::vector<double> per_round;
    for (int r = 0; r < rounds; ++r) {
      std::vector<std::vector<double>> t(devices);
      run_devices(devices, {},
                  [&](Communicator& comm) { t[comm.rank()] = stream_times([&] { comm.barrier(); }); });
      per_round.push_back(bytes / median_value(lockstep_seconds(t)));
    }
    out.together = median_value(per_round);
  }
  return out;
}

LinkProfile measure_threads_link(
    const std::function<void(const MessagePoint&, const MessagePoint&)>& on_size) {
  LinkProfile link;
  link.name       = "threads";
  link.rendezvous = true;
  for (int64_t count : {int64_t{16}, int64_t{1} << 10, int64_t{1} << 14, int64_t{1} << 18, int64_t{1} << 22,
                        int64_t{1} << 24}) {
    double p2p = 0, ar = 0;
    run_devices(2, {}, [&](Communicator& comm) {
      std::vector<float> buf(count, 1.0f);
      auto once_p2p = [&] {
        if (comm.rank() == 0)
          comm.send(buf.data(), count, 1);
        else
          comm.recv(buf.data(), count, 0);
      };
      auto once_ar = [&] { comm.all_reduce(buf.data(), count, ReduceOp::kAverage); };
      // Both devices must make the same calls: a fixed count, not a time budget.
      const int reps = count <= (int64_t{1} << 14) ? 200 : count <= (int64_t{1} << 22) ? 20 : 6;
      auto best      = [&](auto&& f) {
        double t = 1e30;
        for (int i = 0; i < reps; ++i) {
          auto t0 = Clock::now();
          f();
          t = std::min(t, seconds_since(t0));
        }
        return t;
      };
      comm.barrier();
      double a = best(once_p2p);
      comm.barrier();
      double b = best(once_ar);
      if (comm.rank() == 0) p2p = a, ar = b;
    });
    const double bytes = 4.0 * static_cast<double>(count);
    link.p2p_measured.push_back({bytes, p2p});
    link.allreduce_measured.push_back({bytes, ar});
    if (on_size) on_size(link.p2p_measured.back(), link.allreduce_measured.back());
  }
  // α from the smallest message, β from the largest (the two ends of the α–β line).
  link.latency_s = link.p2p_measured.front().seconds;
  link.bandwidth = link.p2p_measured.back().bytes / (link.p2p_measured.back().seconds - link.latency_s);
  // The threads backend runs asynchronous collectives on a helper thread of each device, created by the
  // device thread after it is pinned to its core: it competes with the device's compute.
  link.shares_compute_core = true;
  return link;
}

RunCalibration::RunCalibration(const LinearCalls& calls, int devices)
    : shapes_(
          calls.shapes, calls.rows, devices,
          [turn_shapes = calls.turn_shapes, turn_rows = calls.turn_rows](int64_t in, int64_t out,
                                                                         int64_t rows) {
            return std::find(turn_shapes.begin(), turn_shapes.end(), std::make_pair(in, out)) !=
                       turn_shapes.end() &&
                   std::find(turn_rows.begin(), turn_rows.end(), rows) != turn_rows.end();
          },
          calls.reuse_bytes, calls.convs,
          [turn_convs = calls.turn_convs](const Conv2dShape& c) {
            return std::find(turn_convs.begin(), turn_convs.end(), c) != turn_convs.end();
          }),
      devices_(devices) {}

double RunCalibration::measure_round() {
  const auto t0 = Clock::now();
  shapes_.measure_round();
  const Bandwidth bw = measure_memory_bandwidth(1, devices_);
  bandwidth_alone_.push_back(bw.alone);
  if (bw.together > 0) bandwidth_together_.push_back(bw.together);
  tiny_steps_.push_back(measure_tiny_steps());
  return seconds_since(t0);
}

HardwareProfile RunCalibration::profile(HardwareProfile hw, bool link, const std::string& how,
                                        std::string& unsteady) const {
  const ShapeRates rates = shapes_.result();
  hw.shape_rates         = rates.points;
  hw.conv_rates          = rates.convs;
  hw.memory_bandwidth    = median_value(bandwidth_alone_);
  if (!bandwidth_together_.empty()) hw.memory_bandwidth_concurrent = median_value(bandwidth_together_);
  hw.devices_per_node = std::max(hw.devices_per_node, devices_);
  std::vector<double> tiny(tiny_steps_.front().size());
  for (size_t i = 0; i < tiny.size(); ++i) {
    std::vector<double> rounds;
    for (const auto& r : tiny_steps_) rounds.push_back(r[i]);
    tiny[i] = median_value(rounds);
  }
  const FixedCosts fixed = solve_fixed_costs(hw, tiny);
  hw.kernel_overhead_s   = fixed.kernel_s;
  hw.action_overhead_s   = fixed.action_s;
  hw.step_overhead_s     = fixed.step_s;
  if (link) {
    hw.intra_node        = measure_threads_link();
    hw.intra_node.source = fmt::format("measured by {} (threads backend, 2 devices)", how);
    hw.inter_node        = hw.intra_node;
  }
  hw.name += " + rates measured in this run";
  unsteady = rates.unsteady.empty()
                 ? ""
                 : fmt::format("{} of {} rate measurements differed by more than 25% between rounds",
                               rates.unsteady.size(), rates.measurements);
  return hw;
}

}  // namespace paraxis::measure
