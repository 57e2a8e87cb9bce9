// make_plan: enumerate dp × tp × pp, micro-batch size, schedule, ZeRO-1 and recompute; reject what does not
// divide or fit; rank the rest by predicted step time.
#include "paraxis/cost/planner.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "cost/schedule_cache.h"
#include "paraxis/core/error.h"

namespace paraxis::cost {

using pipeline::ScheduleKind;

namespace {

std::vector<int> divisors(int n) {
  std::vector<int> out;
  for (int d = 1; d <= n; ++d)
    if (n % d == 0) out.push_back(d);
  return out;
}

std::string gb(double bytes) {
  return fmt::format("{:.3g} GB", bytes / 1e9);
}

// The enumeration: every candidate layout is either priced into res.ranked or recorded in res.rejected.
struct Search {
  const ModelDesc& model;
  const PlanOptions& opt;
  const HardwareProfile& hw;
  double capacity;  // bytes per device
  int blocks;
  PlanResult& res;
  ScheduleCache cache;

  void reject(const Layout& l, int64_t mb, std::string reason) {
    res.rejected.push_back({l, mb, std::move(reason)});
    ++res.considered;
  }

  // One complete layout: rejected when it does not divide or fit, else priced.
  void consider(const Layout& l, int64_t mb) {
    const std::string problem = layout_problem(model, l, opt.global_batch);
    if (!problem.empty()) return reject(l, mb, "does not divide: " + problem);
    PredictedStep p = predict_with(model, l, opt.global_batch, hw, cache, /*record_trace=*/false);
    if (p.memory.total() > capacity)
      return reject(
          l, mb,
          fmt::format("does not fit: needs {} per device ({}) > {} available (a {:.0f}% margin "
                      "kept)",
                      gb(p.memory.total()), p.memory.summary(), gb(capacity), opt.memory_margin * 100));
    ++res.considered;
    res.ranked.push_back(std::move(p));
  }

  // One dp × tp × pp (× sp) grid: every micro-batch size on it, unless the grid cannot split the model.
  void grid(int tp, int pp, int sp = 1, bool sp_fc_model = false) {
    const int dp = opt.devices / (tp * pp * sp);
    Layout base;
    base.dp = dp, base.tp = tp, base.pp = pp, base.sp = sp;
    base.sp_fc_model        = sp_fc_model;
    base.optimizer          = opt.optimizer;
    base.threads_per_device = opt.threads_per_device;
    if (pp > blocks)
      return reject(base, 0, fmt::format("does not divide: pp {} exceeds the model's {} blocks", pp, blocks));
    if (!model.tp_divides.empty() && model.tp_divides.front() % tp != 0)
      return reject(base, 0,
                    fmt::format("does not divide: tp {} does not divide {} attention heads", tp,
                                model.tp_divides.front()));
    for (int64_t mb : opt.micro_batch_sizes) micro_batch(base, mb);
  }

  // One micro-batch size on a grid: every schedule, with and without ZeRO-1 and recompute.
  void micro_batch(const Layout& base, int64_t mb) {
    const int dp = base.dp, pp = base.pp;
    if (opt.global_batch % (static_cast<int64_t>(dp) * mb) != 0)
      return reject(base, mb,
                    fmt::format("does not divide: global batch {} is not a multiple of "
                                "dp·micro-batch = {}·{}",
                                opt.global_batch, dp, mb));
    const int64_t m = opt.global_batch / (dp * mb);
    if (m > opt.max_microbatches) return;  // counted in the summary as skipped
    Layout l       = base;
    l.microbatches = static_cast<int>(m);
    for (auto [kind, v] : schedules(pp, m))
      for (bool zero : {false, true})
        for (Recompute r : recompute_options()) {
          if (zero && dp == 1) continue;  // nothing to shard
          l.schedule            = kind;
          l.virtual_stages      = v;
          l.zero1               = zero;
          l.recompute           = r == Recompute::kFull;
          l.selective_recompute = r == Recompute::kSelective;
          l.sequence_parallel   = r == Recompute::kSelective && base.tp > 1;
          consider(l, mb);
        }
  }

  // None and full; for a symbolic GPT also Megatron's selective recompute, with sequence parallelism under
  // tp (Korthikanti et al. 2022: the pair that removes most activation memory for little compute).
  enum class Recompute { kNone, kFull, kSelective };
  std::vector<Recompute> recompute_options() const {
    if (model.symbolic) return {Recompute::kNone, Recompute::kFull, Recompute::kSelective};
    return {Recompute::kNone, Recompute::kFull};
  }

  // The schedules (kind, virtual stages) worth pricing for pp stages and m micro-batches.
  std::vector<std::pair<ScheduleKind, int>> schedules(int pp, int64_t m) const {
    std::vector<std::pair<ScheduleKind, int>> out = {{ScheduleKind::k1F1B, 1}};
    if (pp > 1) {
      out.push_back({ScheduleKind::kGPipe, 1});
      out.push_back({ScheduleKind::kZBH1, 1});
      for (int v : {2, 4})
        if (m % pp == 0 && pp * v <= blocks) out.push_back({ScheduleKind::kInterleaved1F1B, v});
    }
    return out;
  }
};

// The winner against the best layout of another shape (different dp/tp/pp), the alternative a user would
// weigh: where the winner saves most, then every part of the step side by side.
std::string against_other_grid(const PredictedStep& w, const PredictedStep& other) {
  auto parts = [](const PredictedStep& p) {
    return std::map<std::string, double>{{"compute per device", p.compute_s},
                                         {"pipeline bubble", p.bubble * p.step_s},
                                         {"exposed communication", p.exposed_comm_s}};
  };
  auto a = parts(w), b = parts(other);
  std::string biggest;
  double gap = -1;
  for (auto& [k, v] : a)
    if (b[k] - v > gap) gap = b[k] - v, biggest = k;
  return fmt::format(
      ". Against the best other grid, {} ({:.4g} ms, {:.1f}% slower), it saves most on {} ({:.4g} vs "
      "{:.4g} "
      "ms): compute per device {:.4g} vs {:.4g} ms, bubble {:.1f}% vs {:.1f}%, exposed communication "
      "{:.4g} "
      "vs {:.4g} ms, memory {} vs {}",
      other.layout.describe(), other.step_s * 1e3, (other.step_s / w.step_s - 1) * 100, biggest,
      a[biggest] * 1e3, b[biggest] * 1e3, w.compute_s * 1e3, other.compute_s * 1e3, w.bubble * 100,
      other.bubble * 100, w.exposed_comm_s * 1e3, other.exposed_comm_s * 1e3, gb(w.memory.total()),
      gb(other.memory.total()));
}

// PlanResult::why: the winner, the runner-up, and the best other grid; `ranked` is sorted and not empty.
std::string explain(const std::vector<PredictedStep>& ranked) {
  const PredictedStep& w = ranked.front();
  std::string why =
      fmt::format("{} wins at a predicted {:.4g} ms per step", w.layout.describe(), w.step_s * 1e3);
  const PredictedStep* other = nullptr;
  for (const auto& p : ranked)
    if (p.layout.dp != w.layout.dp || p.layout.tp != w.layout.tp || p.layout.pp != w.layout.pp ||
        p.layout.sp != w.layout.sp) {
      other = &p;
      break;
    }
  if (ranked.size() > 1) {
    const PredictedStep& r = ranked[1];
    why += fmt::format("; the runner-up {} (micro-batch {}) is {:.1f}% slower", r.layout.describe(),
                       r.micro_batch, (r.step_s / w.step_s - 1) * 100);
  }
  if (other) why += against_other_grid(w, *other);
  return why + ".";
}

}  // namespace

PlanResult make_plan(const ModelDesc& model, const PlanOptions& opt, const HardwareProfile& hw) {
  PX_USER_CHECK(opt.devices >= 1, "--devices {} must be >= 1", opt.devices);
  PX_USER_CHECK(opt.global_batch >= 1, "--global-batch {} must be >= 1", opt.global_batch);
  PX_USER_CHECK(opt.top_k >= 1, "--top {} must be >= 1", opt.top_k);
  PlanResult res;
  res.model    = model.name;
  res.hardware = hw.name;
  res.options  = opt;
  PX_USER_CHECK(opt.memory_margin >= 0 && opt.memory_margin < 1, "--memory-margin {} must be in [0, 1)",
                opt.memory_margin);
  const double memory = opt.memory_per_device > 0 ? opt.memory_per_device : hw.memory_bytes;
  PX_USER_CHECK(memory > 0, "the hardware profile {} has no memory_bytes; give --memory-per-device BYTES",
                hw.name);
  const double capacity = memory * (1 - opt.memory_margin);  // never plan a device full to the last byte
  Search search{model, opt, hw, capacity, static_cast<int>(model.blocks.size()), res, {}};
  for (int tp : divisors(opt.devices))
    for (int pp : divisors(opt.devices / tp)) search.grid(tp, pp);
  // Domain parallelism for a CNN (the runtime runs it with dp and pp, not tp): every sp × pp × dp of the
  // devices.
  if (model.spec && (model.spec->kind == "cnn" || model.spec->kind == "alexnet"))
    for (int sp : divisors(opt.devices))
      if (sp > 1)
        for (int pp : divisors(opt.devices / sp))
          for (bool fc_model : {false, true}) search.grid(1, pp, sp, fc_model);  // Gholami's L_D / L_M
  std::sort(res.ranked.begin(), res.ranked.end(), [](const PredictedStep& a, const PredictedStep& b) {
    return a.step_s != b.step_s ? a.step_s < b.step_s : a.memory.total() < b.memory.total();
  });
  res.why = res.ranked.empty()
                ? "no layout fits: every candidate was rejected (see the reasons); add devices or memory, or "
                  "lower the global batch"
                : explain(res.ranked);
  return res;
}

std::string format_plan(const PlanResult& plan, int show_rejected) {
  const PlanOptions& o = plan.options;
  std::string out =
      fmt::format("plan (predicted by the cost model): {} on {} devices of {}, global batch {}\n", plan.model,
                  o.devices, plan.hardware, o.global_batch);
  out += fmt::format("considered {} layouts: {} fit, {} rejected\n\n", plan.considered, plan.ranked.size(),
                     plan.rejected.size());
  out += fmt::format("{:>4}  {:<72} {:>6} {:>14} {:>11} {:>8} {:>11} {:>11} {:>11} {:>11}\n", "rank",
                     "layout", "mb", "predicted ms", "memory/dev", "bubble", "dp MB/dev", "tp MB/dev",
                     "pp MB/dev", "sp MB/dev");
  const int k = std::min<int>(o.top_k, static_cast<int>(plan.ranked.size()));
  for (int i = 0; i < k; ++i) {
    const PredictedStep& p = plan.ranked[i];
    out += fmt::format(
        "{:>4}  {:<72} {:>6} {:>14.4g} {:>11} {:>7.1f}% {:>11.4g} {:>11.4g} {:>11.4g} {:>11.4g}\n", i + 1,
        p.layout.describe(), p.micro_batch, p.step_s * 1e3, gb(p.memory.total()), p.bubble * 100,
        p.comm.dp / 1e6, p.comm.tp / 1e6, p.comm.pp / 1e6, p.comm.sp / 1e6);
  }
  out += "\nwhy: " + plan.why + "\n";
  if (!plan.rejected.empty()) {
    std::map<std::string, int> by_kind;
    for (const auto& r : plan.rejected) by_kind[r.reason.substr(0, r.reason.find(':'))]++;
    out += "\nrejected:";
    for (auto& [kind, n] : by_kind) out += fmt::format(" {} {},", n, kind);
    out.back() = '\n';
    for (int i = 0; i < std::min<int>(show_rejected, static_cast<int>(plan.rejected.size())); ++i) {
      const Rejection& r =
          plan.rejected[i * plan.rejected.size() / std::min<size_t>(show_rejected, plan.rejected.size())];
      out += fmt::format("  {} mb {}: {}\n", r.layout.describe(), r.micro_batch, r.reason);
    }
  }
  return out;
}

}  // namespace paraxis::cost
