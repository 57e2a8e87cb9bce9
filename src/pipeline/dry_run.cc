#include "paraxis/pipeline/dry_run.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "paraxis/core/error.h"
#include "paraxis/pipeline/grid.h"
#include "paraxis/pipeline/readiness.h"
#include "paraxis/pipeline/validate.h"

namespace paraxis::pipeline {

double Durations::of(ActionKind kind) const {
  switch (kind) {
    case ActionKind::kForward:
    case ActionKind::kRecompute:
      return forward;
    case ActionKind::kFullBackward:
      return backward;
    case ActionKind::kBackwardInput:
      return backward_input;
    case ActionKind::kBackwardWeight:
      return backward_weight;
    case ActionKind::kSendForward:
    case ActionKind::kSendBackward:
      return send;
    case ActionKind::kRecvForward:
    case ActionKind::kRecvBackward:
      return recv;
    case ActionKind::kReduceGrad:
      return reduce_grad;
    case ActionKind::kOptStep:
      return opt_step;
  }
  return 0;
}

Durations parse_durations(const std::string& text) {
  Durations d;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find(',', pos);
    if (end == std::string::npos) end = text.size();
    const std::string item = text.substr(pos, end - pos);
    pos                    = end + 1;
    const size_t eq        = item.find('=');
    PX_USER_CHECK(eq != std::string::npos, "--durations item '{}' lacks '='; write e.g. F=1,B=2,I=1,W=1",
                  item);
    const std::string key = item.substr(0, eq), value = item.substr(eq + 1);
    char* parse_end = nullptr;
    const double t  = std::strtod(value.c_str(), &parse_end);
    PX_USER_CHECK(!value.empty() && *parse_end == '\0' && std::isfinite(t) && t >= 0,
                  "--durations {}={}: a duration is a number >= 0; write e.g. {}=1", key, value, key);
    double* slot = key == "F"             ? &d.forward
                   : key == "B"           ? &d.backward
                   : key == "I"           ? &d.backward_input
                   : key == "W"           ? &d.backward_weight
                   : key == "SEND"        ? &d.send
                   : key == "RECV"        ? &d.recv
                   : key == "REDUCE_GRAD" ? &d.reduce_grad
                   : key == "OPT_STEP"    ? &d.opt_step
                                          : nullptr;
    PX_USER_CHECK(slot != nullptr,
                  "--durations key '{}' is unknown; use F, B, I, W, SEND, RECV, REDUCE_GRAD or OPT_STEP",
                  key);
    *slot = t;
  }
  return d;
}

double DryRunResult::idle_fraction() const {
  double idle_sum = 0;
  for (double t : idle) idle_sum += t;
  return makespan > 0 ? idle_sum / (makespan * static_cast<double>(idle.size())) : 0;
}

namespace {

class Simulator {
 public:
  // durations[d][i]: the time of device d's action i (a table, or the kind's duration).
  Simulator(const Schedule& s, std::vector<std::vector<double>> durations)
      : s_(s), dur_(std::move(durations)), ready_(s) {}

  DryRunResult run() {
    DryRunResult r;
    const int D = s_.num_devices;
    r.busy.assign(D, 0);
    r.start.resize(D);
    r.finish.resize(D);
    std::vector<double> clock(D, 0);
    std::vector<size_t> next(D, 0);
    for (int d = 0; d < D; ++d) {
      r.start[d].assign(s_.actions[d].size(), 0);
      r.finish[d].assign(s_.actions[d].size(), 0);
    }
    for (bool progress = true; progress;) {
      progress = false;
      for (int d = 0; d < D; ++d)
        for (; next[d] < s_.actions[d].size(); ++next[d], progress = true) {
          const Action& a    = s_.actions[d][next[d]];
          const double input = ready_.input_time(a);
          if (input == Readiness::kNotYet) break;
          const double begin = std::max(clock[d], input), end = begin + dur_[d][next[d]];
          r.start[d][next[d]]  = begin;
          r.finish[d][next[d]] = end;
          r.busy[d] += end - begin;
          clock[d] = end;
          ready_.complete(a, end);
        }
    }
    fail_if_stuck(next);
    r.makespan = *std::max_element(clock.begin(), clock.end());
    for (int d = 0; d < D; ++d) r.idle.push_back(r.makespan - r.busy[d]);
    r.peak_stash = peak_stash();
    return r;
  }

 private:
  const Schedule& s_;
  const std::vector<std::vector<double>> dur_;
  Readiness ready_;

  void fail_if_stuck(const std::vector<size_t>& next) const {
    std::vector<GridMark> stuck;
    for (int d = 0; d < s_.num_devices; ++d)
      if (next[d] < s_.actions[d].size()) stuck.push_back({d, static_cast<int>(next[d])});
    if (!stuck.empty())
      PX_USER_FAIL(
          "the schedule deadlocks: no device can start its next action (marked), each waits for data that "
          "comes after another marked action\n{}",
          format_grid(s_, stuck));
  }

  // List order decides the stash: a stage lives on one device, whose actions run one after another.
  std::vector<int> peak_stash() const {
    std::vector<int> now(s_.num_stages, 0), peak(s_.num_stages, 0);
    for (const auto& list : s_.actions)
      for (const Action& a : list) {
        if (a.kind == ActionKind::kForward) peak[a.stage] = std::max(peak[a.stage], ++now[a.stage]);
        if (a.kind == ActionKind::kFullBackward || a.kind == ActionKind::kBackwardWeight) --now[a.stage];
      }
    return peak;
  }
};

}  // namespace

DryRunResult dry_run(const Schedule& s, const Durations& durations) {
  std::vector<std::vector<double>> table(s.actions.size());
  for (size_t d = 0; d < s.actions.size(); ++d)
    for (const Action& a : s.actions[d]) table[d].push_back(durations.of(a.kind));
  return dry_run(s, table);
}

DryRunResult dry_run(const Schedule& s, const std::vector<std::vector<double>>& action_durations) {
  validate_schedule(s);
  PX_CHECK(action_durations.size() == s.actions.size(), "dry_run: durations for {} of {} devices",
           action_durations.size(), s.actions.size());
  for (size_t d = 0; d < s.actions.size(); ++d)
    PX_CHECK(action_durations[d].size() == s.actions[d].size(), "dry_run: {} durations for {} actions",
             action_durations[d].size(), s.actions[d].size());
  return Simulator(s, action_durations).run();
}

std::vector<double> peak_stash_bytes(const Schedule& s, const std::vector<double>& stage_bytes) {
  PX_CHECK(static_cast<int>(stage_bytes.size()) == s.num_stages, "peak_stash_bytes: {} sizes for {} stages",
           stage_bytes.size(), s.num_stages);
  std::vector<double> peak(s.actions.size(), 0.0);
  for (size_t d = 0; d < s.actions.size(); ++d) {
    double now = 0;
    for (const Action& a : s.actions[d]) {
      if (a.kind == ActionKind::kForward) peak[d] = std::max(peak[d], now += stage_bytes[a.stage]);
      if (a.kind == ActionKind::kFullBackward || a.kind == ActionKind::kBackwardWeight)
        now -= stage_bytes[a.stage];
    }
  }
  return peak;
}

std::string format_timeline(const Schedule& s, const DryRunResult& r, int max_rows) {
  const int rows  = static_cast<int>(std::ceil(r.makespan - 1e-9));
  const int shown = std::min(rows, max_rows);
  std::vector<std::vector<std::string>> cells(shown, std::vector<std::string>(s.num_devices, "."));
  size_t width = 5;
  for (int d = 0; d < s.num_devices; ++d)
    for (size_t i = 0; i < s.actions[d].size(); ++i) {
      const int from         = static_cast<int>(std::lround(r.start[d][i])),
                to           = static_cast<int>(std::lround(r.finish[d][i]));
      const std::string text = to_string(s.actions[d][i]);
      for (int t = from; t < std::min(to, shown); ++t) cells[t][d] = text;
      if (to > from) width = std::max(width, text.size());
    }
  std::string out = "time ";
  for (int d = 0; d < s.num_devices; ++d) out += fmt::format(" {:<{}}", fmt::format("dev {}", d), width + 1);
  while (out.back() == ' ') out.pop_back();
  out += "\n";
  for (int t = 0; t < shown; ++t) {
    out += fmt::format("{:>4} ", t);
    for (int d = 0; d < s.num_devices; ++d) out += fmt::format(" {:<{}}", cells[t][d], width + 1);
    while (out.back() == ' ') out.pop_back();
    out += "\n";
  }
  if (shown < rows) out += fmt::format("... {} more time units\n", rows - shown);
  return out;
}

}  // namespace paraxis::pipeline
