// Work–depth view (Ben-Nun & Hoefler 2019, "Demystifying Parallel and Distributed Deep Learning", §3):
// W = total work, D = the longest chain of dependent work, W/D = average parallelism, T_p ≥ max(W/p, D).
// NOTE [work-depth]: docs/analysis.md derives D for each layout.
#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <map>

#include "paraxis/core/error.h"
#include "paraxis/trace/analysis.h"

namespace paraxis::trace {

std::vector<int> balanced_stages(std::span<const LayerWork> layers, int stages) {
  const int n = static_cast<int>(layers.size());
  PX_USER_CHECK(stages >= 1 && stages <= n, "cannot cut {} layers into {} pipeline stages; use --pp 1..{}", n,
                stages, n);
  // best[k][i]: smallest possible largest stage when the first i layers form k stages.
  std::vector<double> prefix(n + 1, 0);
  for (int i = 0; i < n; ++i) prefix[i + 1] = prefix[i] + layers[i].work;
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<std::vector<double>> best(stages + 1, std::vector<double>(n + 1, inf));
  std::vector<std::vector<int>> cut(stages + 1, std::vector<int>(n + 1, 0));
  best[0][0] = 0;
  for (int k = 1; k <= stages; ++k)
    for (int i = k; i <= n; ++i)
      for (int j = k - 1; j < i; ++j) {
        const double v = std::max(best[k - 1][j], prefix[i] - prefix[j]);
        if (v < best[k][i]) {
          best[k][i] = v;
          cut[k][i]  = j;
        }
      }
  std::vector<int> stage_of(n);
  for (int k = stages, i = n; k >= 1; --k) {
    const int j = cut[k][i];
    for (int l = j; l < i; ++l) stage_of[l] = k - 1;
    i = j;
  }
  return stage_of;
}

WorkDepth work_depth(std::span<const LayerWork> layers, const WorkDepthLayout& layout) {
  PX_USER_CHECK(!layers.empty(), "work–depth needs at least one layer");
  PX_USER_CHECK(layout.dp >= 1 && layout.tp >= 1 && layout.pp >= 1 && layout.microbatches >= 1,
                "layout '{}' needs dp, tp, pp and m >= 1, got dp={} tp={} pp={} m={}", layout.name, layout.dp,
                layout.tp, layout.pp, layout.microbatches);
  std::vector<int> stage_of = layout.stage_of_layer;
  if (stage_of.empty()) stage_of = balanced_stages(layers, layout.pp);
  PX_USER_CHECK(stage_of.size() == layers.size(),
                "layout '{}' assigns {} layers to stages but the model has {}", layout.name, stage_of.size(),
                layers.size());
  WorkDepth wd;
  wd.layout  = layout.name;
  wd.devices = layout.devices();
  const double split =
      static_cast<double>(layout.dp) * layout.tp;  // each layer's work is cut into dp·tp pieces
  const double m = layout.microbatches;
  std::vector<double> stage_work(layout.pp, 0);  // C_s: one device's work of stage s for the whole mini-batch
  for (size_t i = 0; i < layers.size(); ++i) {
    PX_USER_CHECK(layers[i].work >= 0, "layer '{}' has negative work {}", layers[i].name, layers[i].work);
    PX_USER_CHECK(stage_of[i] >= 0 && stage_of[i] < layout.pp, "layer '{}' is on stage {}, outside 0..{}",
                  layers[i].name, stage_of[i], layout.pp - 1);
    const double depth = layers[i].work / split;
    wd.layers.push_back({layers[i].name, stage_of[i], layers[i].work, depth});
    wd.work += layers[i].work;
    stage_work[stage_of[i]] += depth;
  }
  // Micro-batch j on stage s depends on (s − 1, j) (its input) and on (s, j − 1) (same device, same weights):
  // the longest path of that grid runs through every stage once and repeats the largest stage m − 1 times.
  double sum = 0, largest = 0;
  for (double c : stage_work) {
    sum += c / m;
    largest = std::max(largest, c / m);
  }
  wd.depth       = sum + (m - 1) * largest;
  wd.parallelism = wd.depth > 0 ? wd.work / wd.depth : 0;
  wd.time_bound  = std::max(wd.work / wd.devices, wd.depth);
  return wd;
}

std::vector<WorkDepthLayout> standard_layouts(int n) {
  auto make = [](std::string name, int dp, int tp, int pp, int m) {
    WorkDepthLayout l;
    l.name         = std::move(name);
    l.dp           = dp;
    l.tp           = tp;
    l.pp           = pp;
    l.microbatches = m;
    return l;
  };
  std::vector<WorkDepthLayout> out = {make("one device", 1, 1, 1, 1)};
  if (n < 2) return out;
  out.push_back(make(fmt::format("placement pp={}", n), 1, 1, n, 1));
  out.push_back(make(fmt::format("1f1b pp={} m={}", n, 4 * n), 1, 1, n, 4 * n));
  out.push_back(make(fmt::format("tp={}", n), 1, n, 1, 1));
  out.push_back(make(fmt::format("dp={}", n), n, 1, 1, 1));
  return out;
}

std::vector<LayerWork> trace_work(const TraceSet& set) {
  if (!set.layers.empty()) return set.layers;
  // Each stage's measured compute (device-nanoseconds) stands in for its work.
  std::map<int, double> per_stage;
  for (int d = 0; d < set.num_devices(); ++d)
    for (const Event& e : set.events[d])
      if (is_compute(e.kind)) per_stage[e.stage >= 0 ? e.stage : set.devices[d].pp] += e.duration_ns();
  std::vector<LayerWork> out;
  for (auto [stage, work] : per_stage) out.push_back({fmt::format("stage {}", stage), work});
  return out;
}

std::string format_work_depth(std::span<const LayerWork> layers, std::span<const WorkDepthLayout> layouts,
                              const std::string& unit) {
  std::string out = fmt::format("work–depth (Ben-Nun & Hoefler 2019; unit: {}):\n", unit);
  out += fmt::format("  {:<22} {:>12}\n", "layer", "work w_i");
  for (const LayerWork& l : layers) out += fmt::format("  {:<22} {:>12.4g}\n", l.name, l.work);
  out += fmt::format("  {:<22} {:>8} {:>12} {:>12} {:>8} {:>18}\n", "layout", "devices", "W", "D", "W/D",
                     "T ≥ max(W/n, D)");
  for (const WorkDepthLayout& layout : layouts) {
    if (layout.pp > static_cast<int>(layers.size())) {
      out += fmt::format("  {:<22} {:>8} (needs at least {} layers)\n", layout.name, layout.devices(),
                         layout.pp);
      continue;
    }
    WorkDepth wd = work_depth(layers, layout);
    out += fmt::format("  {:<22} {:>8} {:>12.4g} {:>12.4g} {:>8.2f} {:>18.4g}\n", wd.layout, wd.devices,
                       wd.work, wd.depth, wd.parallelism, wd.time_bound);
  }
  return out;
}

}  // namespace paraxis::trace
