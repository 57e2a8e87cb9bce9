#include "paraxis/cost/hardware.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>

#include "cost/conv_rates.h"
#include "cost/rate_lookup.h"
#include "paraxis/core/error.h"
#include "paraxis/core/input_file.h"
#include "paraxis/core/json_read.h"
#include "paraxis/core/safe_write.h"

namespace paraxis::cost {

double HardwareProfile::matmul_rate(double flops_per_call) const {
  if (matmul_rates.empty()) return peak_flops;
  if (flops_per_call <= matmul_rates.front().flops) return matmul_rates.front().flops_per_s;
  if (flops_per_call >= matmul_rates.back().flops) return matmul_rates.back().flops_per_s;
  auto hi = std::upper_bound(matmul_rates.begin(), matmul_rates.end(), flops_per_call,
                             [](double f, const RatePoint& p) { return f < p.flops; });
  auto lo = hi - 1;
  // Linear in log(size): rates rise roughly logarithmically until the kernel saturates.
  double w = std::log(flops_per_call / lo->flops) / std::log(hi->flops / lo->flops);
  return lo->flops_per_s + w * (hi->flops_per_s - lo->flops_per_s);
}

double HardwareProfile::row_rate(PassKind kind, double rows, bool concurrent) const {
  // Concurrent: never above the rate alone at the same rows (see shape_rate).
  if (concurrent && !row_rates_concurrent.empty() && !row_rates.empty())
    return std::min(row_rate(kind, rows, false), row_rate_in(row_rates_concurrent, kind, rows));
  return row_rate_in(row_rates, kind, rows);
}

double HardwareProfile::row_rate_in(const std::vector<RowRatePoint>& t, PassKind kind, double rows) {
  if (t.empty() || rows <= 0) return 0;
  auto rate = [kind](const RowRatePoint& p) {
    return kind == PassKind::kForward         ? p.forward
           : kind == PassKind::kBackwardInput ? p.backward_input
                                              : p.backward_weight;
  };
  if (rows <= t.front().rows) return rate(t.front());
  if (rows >= t.back().rows) return rate(t.back());
  auto hi =
      std::upper_bound(t.begin(), t.end(), rows, [](double r, const RowRatePoint& p) { return r < p.rows; });
  auto lo  = hi - 1;
  double w = std::log(rows / lo->rows) / std::log(hi->rows / lo->rows);
  return rate(*lo) + w * (rate(*hi) - rate(*lo));
}

double HardwareProfile::shape_rate(PassKind kind, double rows, double in, double out, bool concurrent) const {
  if (in <= 0 || out <= 0) return 0;
  std::vector<RatedRows> calls;
  for (const ShapeRatePoint& p : shape_rates)
    if (p.in == in && p.out == out) calls.push_back({p.rows, &p.alone, &p.together});
  return rate_by_rows(calls, kind, rows, concurrent);
}

LinkProfile HardwareProfile::collective_link(int group_size, int stride) const {
  if (static_cast<double>(group_size) * stride <= devices_per_node) return intra_node;
  const int per_node = std::clamp(devices_per_node / std::max(1, stride), 1, group_size);
  LinkProfile link   = inter_node;
  link.bandwidth     = std::min(intra_node.achieved_bandwidth(), per_node * inter_node.achieved_bandwidth());
  link.efficiency    = 1;
  if (per_node > 1) link.name += fmt::format(" x{} per node", per_node);
  return link;
}

double LinkProfile::measured_allreduce_time(double bytes) const {
  const auto& t = allreduce_measured;
  if (t.empty()) return -1;
  if (bytes <= t.front().bytes) return t.front().seconds;
  if (bytes >= t.back().bytes) return t.back().seconds * bytes / t.back().bytes;  // its bandwidth beyond
  auto hi  = std::upper_bound(t.begin(), t.end(), bytes,
                              [](double b, const MessagePoint& p) { return b < p.bytes; });
  auto lo  = hi - 1;
  double w = std::log(bytes / lo->bytes) / std::log(hi->bytes / lo->bytes);
  return std::exp(std::log(lo->seconds) + w * (std::log(hi->seconds) - std::log(lo->seconds)));
}

std::string HardwareProfile::summary() const {
  const std::string gemm_part =
      gemm.sms > 0
          ? fmt::format(", GEMMs at a measured {:.4g} TFLOP/s ceiling on {} SMs (tile and wave model)",
                        gemm.achievable_flops / 1e12, gemm.sms)
          : "";
  return fmt::format(
      "{}: {} peak {:.4g} TFLOP/s{}, memory {:.4g} GB/s × {:.2g} achievable, {:.4g} GB per device, {} per "
      "node; "
      "intra-node {} (α {:.3g} us, β {:.4g} GB/s × {:.2g}), inter-node {} (α {:.3g} us, β {:.4g} GB/s × "
      "{:.2g}). Source: {}",
      name, dtype, peak_flops / 1e12, gemm_part, memory_bandwidth / 1e9, memory_efficiency,
      memory_bytes / 1e9, devices_per_node, intra_node.name, intra_node.latency_s * 1e6,
      intra_node.bandwidth / 1e9, intra_node.efficiency, inter_node.name, inter_node.latency_s * 1e6,
      inter_node.bandwidth / 1e9, inter_node.efficiency, source);
}

static bool measured_in_turns(const RowRatePoint& turns) {
  return turns.forward > 0 && turns.backward_input > 0 && turns.backward_weight > 0;
}

bool HardwareProfile::has_turn_rates() const {
  return std::any_of(shape_rates.begin(), shape_rates.end(),
                     [](const ShapeRatePoint& p) { return measured_in_turns(p.turns); }) ||
         std::any_of(conv_rates.begin(), conv_rates.end(),
                     [](const ConvRatePoint& p) { return measured_in_turns(p.turns); });
}

HardwareProfile HardwareProfile::turn_rates_as_alone() const {
  HardwareProfile hw = *this;
  for (ShapeRatePoint& p : hw.shape_rates)
    if (measured_in_turns(p.turns)) p.alone = p.turns;
  for (ConvRatePoint& p : hw.conv_rates)
    if (measured_in_turns(p.turns)) p.alone = p.turns;
  return hw;
}

namespace {

nlohmann::json row_rates_json(const std::vector<RowRatePoint>& v) {
  nlohmann::json a = nlohmann::json::array();
  for (const auto& p : v) a.push_back({p.rows, p.forward, p.backward_input, p.backward_weight});
  return a;
}

std::vector<RowRatePoint> row_rates_from(const nlohmann::json& j, const char* key, const std::string& what) {
  std::vector<RowRatePoint> out;
  if (!j.contains(key)) return out;
  for (const auto& p : j[key]) {
    RowRatePoint r{p.at(0).get<double>(), p.at(1).get<double>(), p.at(2).get<double>(),
                   p.at(3).get<double>()};
    PX_USER_CHECK(r.rows > 0 && r.forward > 0 && r.backward_input > 0 && r.backward_weight > 0,
                  "{}: {} entry [{}, {}, {}, {}] must be positive ([rows, forward, backward_input, "
                  "backward_weight] FLOP/s)",
                  what, key, r.rows, r.forward, r.backward_input, r.backward_weight);
    out.push_back(r);
  }
  std::sort(out.begin(), out.end(),
            [](const RowRatePoint& a, const RowRatePoint& b) { return a.rows < b.rows; });
  return out;
}

nlohmann::json shape_rates_json(const std::vector<ShapeRatePoint>& v) {
  nlohmann::json a = nlohmann::json::array();
  for (const auto& p : v) {
    nlohmann::json e = {p.rows,
                        p.in,
                        p.out,
                        p.alone.forward,
                        p.alone.backward_input,
                        p.alone.backward_weight,
                        p.together.forward,
                        p.together.backward_input,
                        p.together.backward_weight};
    if (measured_in_turns(p.turns))
      for (double r : {p.turns.forward, p.turns.backward_input, p.turns.backward_weight}) e.push_back(r);
    a.push_back(e);
  }
  return a;
}

std::vector<ShapeRatePoint> shape_rates_from(const nlohmann::json& j, const std::string& what) {
  std::vector<ShapeRatePoint> out;
  if (!j.contains("shape_rates")) return out;
  for (const auto& p : j["shape_rates"]) {
    PX_USER_CHECK(p.is_array() && (p.size() == 9 || p.size() == 12) &&
                      std::all_of(p.begin(), p.end(), [](const nlohmann::json& x) { return x.is_number(); }),
                  "{}: a shape_rates entry is {}; give 9 or 12 numbers: [rows, in, out, forward, input grad, "
                  "weight grad FLOP/s alone, the same three together, optionally the same three in turns]",
                  what, p.dump());
    ShapeRatePoint r;
    r.rows = p[0].get<double>(), r.in = p[1].get<double>(), r.out = p[2].get<double>();
    r.alone    = {r.rows, p[3].get<double>(), p[4].get<double>(), p[5].get<double>()};
    r.together = {r.rows, p[6].get<double>(), p[7].get<double>(), p[8].get<double>()};
    if (p.size() == 12) r.turns = {r.rows, p[9].get<double>(), p[10].get<double>(), p[11].get<double>()};
    PX_USER_CHECK(r.rows > 0 && r.in > 0 && r.out > 0 && r.alone.forward > 0 && r.alone.backward_input > 0 &&
                      r.alone.backward_weight > 0 && r.together.forward >= 0 && r.turns.forward >= 0 &&
                      r.turns.backward_input >= 0 && r.turns.backward_weight >= 0,
                  "{}: shape_rates entry for rows {} in {} out {} must be positive ([rows, in, out, forward, "
                  "input grad, weight grad, the same together, optionally in turns] FLOP/s; together 0: not "
                  "measured)",
                  what, r.rows, r.in, r.out);
    out.push_back(r);
  }
  return out;
}

double positive(const nlohmann::json& j, const char* key, const std::string& what) {
  PX_USER_CHECK(j.contains(key) && j[key].is_number(), "{}: missing number '{}'; see docs/cost-model.md",
                what, key);
  double v = j[key].get<double>();
  PX_USER_CHECK(std::isfinite(v) && v > 0, "{}: '{}' = {} must be positive", what, key, v);
  return v;
}

// A count (bytes_per_element, devices_per_node, sms, a tile's rows): a whole number within int; anything else
// (2.5, 1e300, "4") is a user error naming the field, never a conversion with an undefined result.
int whole_int(const nlohmann::json& v, const std::string& field, const std::string& what) {
  const double d = v.is_number() ? v.get<double>() : std::nan("");
  PX_USER_CHECK(std::trunc(d) == d && std::fabs(d) <= std::numeric_limits<int>::max(),
                "{}: {} = {} must be a whole number (an int); see docs/cost-model.md", what, field, v.dump());
  return static_cast<int>(d);
}

int int_value(const nlohmann::json& j, const char* key, int fallback, const std::string& what) {
  return j.contains(key) ? whole_int(j[key], key, what) : fallback;
}

std::vector<MessagePoint> points(const nlohmann::json& j, const char* key) {
  std::vector<MessagePoint> out;
  if (j.contains(key))
    for (const auto& p : j[key]) out.push_back({p.at(0).get<double>(), p.at(1).get<double>()});
  return out;
}

nlohmann::json link_json(const LinkProfile& l) {
  nlohmann::json j = {{"name", l.name},
                      {"latency_s", l.latency_s},
                      {"bandwidth", l.bandwidth},
                      {"rendezvous", l.rendezvous},
                      {"shares_compute_core", l.shares_compute_core},
                      {"source", l.source}};
  if (l.efficiency != 1) j["efficiency"] = l.efficiency;
  auto pts = [](const std::vector<MessagePoint>& v) {
    nlohmann::json a = nlohmann::json::array();
    for (const auto& p : v) a.push_back({p.bytes, p.seconds});
    return a;
  };
  if (!l.p2p_measured.empty()) j["p2p_measured"] = pts(l.p2p_measured);
  if (!l.allreduce_measured.empty()) j["allreduce_measured"] = pts(l.allreduce_measured);
  return j;
}

nlohmann::json gemm_json(const GemmProfile& g) {
  nlohmann::json tiles = nlohmann::json::array();
  for (const auto& [m, n] : g.tiles) tiles.push_back({m, n});
  return {{"achievable_flops", g.achievable_flops}, {"sms", g.sms}, {"tiles", tiles}, {"source", g.source}};
}

GemmProfile gemm_from_json(const nlohmann::json& j, const std::string& what) {
  GemmProfile g;
  g.achievable_flops = positive(j, "achievable_flops", what + " gemm");
  g.sms              = int_value(j, "sms", 0, what + " gemm");
  g.source           = j.value("source", std::string());
  PX_USER_CHECK(g.sms > 0, "{}: gemm.sms = {} must be a positive count of multiprocessors", what, g.sms);
  for (const auto& t : j.at("tiles")) {
    const int m = whole_int(t.at(0), "tile rows", what + " gemm"),
              n = whole_int(t.at(1), "tile cols", what + " gemm");
    PX_USER_CHECK(m > 0 && n > 0, "{}: gemm tile [{}, {}] must be positive", what, m, n);
    g.tiles.emplace_back(m, n);
  }
  PX_USER_CHECK(!g.tiles.empty(), "{}: gemm.tiles must list at least one [rows, cols] tile", what);
  return g;
}

}  // namespace

LinkProfile link_from_json(const nlohmann::json& j, const std::string& what) {
  PX_USER_CHECK(j.is_object(), "{}: a link must be an object with latency_s and bandwidth", what);
  LinkProfile l;
  l.name      = j.value("name", std::string("link"));
  l.latency_s = j.value("latency_s", 0.0);
  PX_USER_CHECK(l.latency_s >= 0, "{}: latency_s = {} must be >= 0", what, l.latency_s);
  l.bandwidth          = positive(j, "bandwidth", what);
  l.rendezvous         = j.value("rendezvous", false);
  l.source             = j.value("source", std::string());
  l.p2p_measured       = points(j, "p2p_measured");
  l.allreduce_measured = points(j, "allreduce_measured");
  std::sort(l.allreduce_measured.begin(), l.allreduce_measured.end(),
            [](const MessagePoint& a, const MessagePoint& b) { return a.bytes < b.bytes; });
  l.shares_compute_core = j.value("shares_compute_core", false);
  l.efficiency          = j.value("efficiency", 1.0);
  PX_USER_CHECK(l.efficiency > 0 && l.efficiency <= 1, "{}: efficiency = {} must be in (0, 1]", what,
                l.efficiency);
  return l;
}

nlohmann::json to_json(const HardwareProfile& hw) {
  nlohmann::json rates = nlohmann::json::array();
  for (const auto& r : hw.matmul_rates) rates.push_back({r.flops, r.flops_per_s});
  nlohmann::json j = {{"name", hw.name},
                      {"source", hw.source},
                      {"dtype", hw.dtype},
                      {"bytes_per_element", hw.bytes_per_element},
                      {"peak_flops", hw.peak_flops},
                      {"matmul_rates", rates},
                      {"memory_bandwidth", hw.memory_bandwidth},
                      {"memory_bytes", hw.memory_bytes},
                      {"kernel_overhead_s", hw.kernel_overhead_s},
                      {"concurrent_efficiency", hw.concurrent_efficiency},
                      {"devices_per_node", hw.devices_per_node},
                      {"intra_node", link_json(hw.intra_node)},
                      {"inter_node", link_json(hw.inter_node)}};
  if (!hw.row_rates.empty()) j["row_rates"] = row_rates_json(hw.row_rates);
  if (!hw.row_rates_concurrent.empty()) j["row_rates_concurrent"] = row_rates_json(hw.row_rates_concurrent);
  if (!hw.shape_rates.empty()) j["shape_rates"] = shape_rates_json(hw.shape_rates);
  if (!hw.conv_rates.empty()) j["conv_rates"] = conv_rates_json(hw.conv_rates);
  if (hw.memory_bandwidth_concurrent > 0) j["memory_bandwidth_concurrent"] = hw.memory_bandwidth_concurrent;
  if (hw.memory_efficiency != 1) j["memory_efficiency"] = hw.memory_efficiency;
  if (hw.gemm.sms > 0) j["gemm"] = gemm_json(hw.gemm);
  if (hw.action_overhead_s > 0) j["action_overhead_s"] = hw.action_overhead_s;
  if (hw.step_overhead_s > 0) j["step_overhead_s"] = hw.step_overhead_s;
  if (!hw.peak_by_dtype.empty()) j["peak"] = hw.peak_by_dtype;
  if (hw.bf16_matmul_speedup > 0) j["bf16_matmul_speedup"] = hw.bf16_matmul_speedup;
  return j;
}

HardwareProfile hardware_from_json(const nlohmann::json& j, const std::string& what) {
  PX_USER_CHECK(j.is_object(), "{}: expected a JSON object (as `paraxis calibrate -o FILE` writes)", what);
  HardwareProfile hw;
  try {
    hw.name              = j.value("name", std::string("unnamed"));
    hw.source            = j.value("source", std::string());
    hw.dtype             = j.value("dtype", std::string("fp32"));
    hw.bytes_per_element = int_value(j, "bytes_per_element", 4, what);
    PX_USER_CHECK(hw.bytes_per_element == 2 || hw.bytes_per_element == 4,
                  "{}: bytes_per_element = {} must be 2 (bf16/fp16) or 4 (fp32)", what, hw.bytes_per_element);
    hw.peak_flops        = positive(j, "peak_flops", what);
    hw.memory_bandwidth  = positive(j, "memory_bandwidth", what);
    hw.memory_bytes      = j.value("memory_bytes", 0.0);
    hw.kernel_overhead_s = j.value("kernel_overhead_s", 0.0);
    hw.action_overhead_s = j.value("action_overhead_s", 0.0);
    hw.step_overhead_s   = j.value("step_overhead_s", 0.0);
    PX_USER_CHECK(hw.kernel_overhead_s >= 0 && hw.action_overhead_s >= 0 && hw.step_overhead_s >= 0,
                  "{}: kernel_overhead_s, action_overhead_s and step_overhead_s must be >= 0", what);
    hw.concurrent_efficiency = j.value("concurrent_efficiency", 1.0);
    hw.memory_efficiency     = j.value("memory_efficiency", 1.0);
    PX_USER_CHECK(hw.memory_efficiency > 0 && hw.memory_efficiency <= 1,
                  "{}: memory_efficiency = {} must be in (0, 1]", what, hw.memory_efficiency);
    if (j.contains("gemm")) hw.gemm = gemm_from_json(j["gemm"], what);
    PX_USER_CHECK(hw.concurrent_efficiency > 0 && hw.concurrent_efficiency <= 1,
                  "{}: concurrent_efficiency = {} must be in (0, 1]", what, hw.concurrent_efficiency);
    hw.devices_per_node = int_value(j, "devices_per_node", 1, what);
    PX_USER_CHECK(hw.devices_per_node >= 1, "{}: devices_per_node = {} must be >= 1", what,
                  hw.devices_per_node);
    if (j.contains("matmul_rates"))
      for (const auto& p : j["matmul_rates"]) {
        RatePoint r{p.at(0).get<double>(), p.at(1).get<double>()};
        PX_USER_CHECK(r.flops > 0 && r.flops_per_s > 0, "{}: matmul_rates entry [{}, {}] must be positive",
                      what, r.flops, r.flops_per_s);
        hw.matmul_rates.push_back(r);
      }
    hw.row_rates                   = row_rates_from(j, "row_rates", what);
    hw.row_rates_concurrent        = row_rates_from(j, "row_rates_concurrent", what);
    hw.shape_rates                 = shape_rates_from(j, what);
    hw.conv_rates                  = conv_rates_from(j, what);
    hw.memory_bandwidth_concurrent = j.value("memory_bandwidth_concurrent", 0.0);
    if (j.contains("peak"))
      for (auto it = j["peak"].begin(); it != j["peak"].end(); ++it) {
        hw.peak_by_dtype[it.key()] = it.value().get<double>();
        PX_USER_CHECK(hw.peak_by_dtype[it.key()] > 0, "{}: peak.{} = {} must be positive", what, it.key(),
                      hw.peak_by_dtype[it.key()]);
      }
    hw.bf16_matmul_speedup = j.value("bf16_matmul_speedup", 0.0);
    PX_USER_CHECK(hw.bf16_matmul_speedup >= 0, "{}: bf16_matmul_speedup = {} must be >= 0 (0: not measured)",
                  what, hw.bf16_matmul_speedup);
    PX_USER_CHECK(hw.memory_bandwidth_concurrent >= 0, "{}: memory_bandwidth_concurrent = {} must be >= 0",
                  what, hw.memory_bandwidth_concurrent);
    std::sort(hw.matmul_rates.begin(), hw.matmul_rates.end(),
              [](const RatePoint& a, const RatePoint& b) { return a.flops < b.flops; });
    PX_USER_CHECK(j.contains("intra_node"), "{}: missing 'intra_node' link", what);
    hw.intra_node = link_from_json(j["intra_node"], what + " intra_node");
    hw.inter_node =
        j.contains("inter_node") ? link_from_json(j["inter_node"], what + " inter_node") : hw.intra_node;
  } catch (const nlohmann::json::exception& e) {
    PX_USER_FAIL("{}: malformed field ({}); see docs/cost-model.md for the format", what, e.what());
  }
  return hw;
}

HardwareProfile load_hardware(const std::string& path) {
  PX_USER_CHECK(std::filesystem::exists(path),
                "--machine {}: no such file; write one with `paraxis calibrate -o {}`", path, path);
  check_input_file("--machine", path);
  std::ifstream in(path);
  PX_USER_CHECK(in.good(), "--machine {}: cannot open the file; write one with `paraxis calibrate -o {}`",
                path, path);
  nlohmann::json j = parse_json_bounded(in, "--machine " + path);
  PX_USER_CHECK(!j.is_discarded(), "--machine {}: not valid JSON; write one with `paraxis calibrate -o {}`",
                path, path);
  return hardware_from_json(j, path);
}

void save_hardware(const HardwareProfile& hw, const std::string& path) {
  write_output("-o", path, to_json(hw).dump(2) + "\n");
}

}  // namespace paraxis::cost
