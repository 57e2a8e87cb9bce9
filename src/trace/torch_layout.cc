// The layout PyTorch rank traces show (torch_profile.h): pipeline stages from send/recv between two ranks,
// data parallelism from all-reduces. PyTorch 1.13 records no peer for a send or receive, so stages are
// recognised between two ranks only (docs/analysis.md, "PyTorch profiler traces").
#include <fmt/format.h>

#include <algorithm>

#include "trace/torch_profile.h"

namespace paraxis::trace::torch {
namespace {

bool is_transfer(Kind k) {
  return k == Kind::kSend || k == Kind::kRecv;
}

bool any_call(const std::vector<RankProfile>& ranks, bool (*pred)(Kind)) {
  for (const RankProfile& p : ranks)
    for (const Call& c : p.calls)
      if (pred(c.kind)) return true;
  return false;
}

bool is_gradient_collective(Kind k) {
  return k == Kind::kAllReduce || k == Kind::kReduceScatter || k == Kind::kAllGather;
}

// Stage 0 of a two-rank pipeline: the rank whose first send/recv is a send (the activations go first).
int first_stage(const std::vector<RankProfile>& ranks) {
  for (int r = 0; r < 2; ++r) {
    auto first = std::find_if(ranks[r].calls.begin(), ranks[r].calls.end(),
                              [](const Call& c) { return is_transfer(c.kind); });
    if (first != ranks[r].calls.end() && first->kind == Kind::kSend) return r;
  }
  return 0;
}

// Micro-batches per step: stage 0's sends per marked step (the median over the steps; the whole trace when
// none is marked).
int microbatches(const RankProfile& stage0) {
  std::map<int, int> sends;
  for (const Call& c : stage0.calls)
    if (c.kind == Kind::kSend) ++sends[c.step];
  if (stage0.steps.empty()) return std::max(1, sends[-1]);
  std::vector<int> per_step;
  for (const auto& [n, s] : stage0.steps) per_step.push_back(sends[n]);
  std::nth_element(per_step.begin(), per_step.begin() + per_step.size() / 2, per_step.end());
  return std::max(1, per_step[per_step.size() / 2]);
}

// GPipe when stage 0 makes all m sends of its first step with sends before that step's first receive.
std::string schedule(const RankProfile& stage0, int m) {
  auto first = std::find_if(stage0.calls.begin(), stage0.calls.end(),
                            [](const Call& c) { return c.kind == Kind::kSend; });
  if (first == stage0.calls.end()) return "gpipe";
  int before = 0;
  for (auto c = first; c != stage0.calls.end() && c->step == first->step && c->kind != Kind::kRecv; ++c)
    before += c->kind == Kind::kSend;
  return before >= m ? "gpipe" : "1f1b";
}

void pipeline_layout(const std::vector<RankProfile>& ranks, TorchLayout& t) {
  const int s0         = first_stage(ranks);
  const int m          = microbatches(ranks[s0]);
  t.info               = {.pp        = 2,
                          .m         = m,
                          .schedule  = m == 1 ? "gpipe" : schedule(ranks[s0], m),
                          .placement = m == 1,
                          .known     = true};
  t.devices[s0].pp     = 0;
  t.devices[1 - s0].pp = 1;
  t.label += m == 1 ? "layer placement pp2 m1" : fmt::format("{} pp2 m{}", t.info.schedule, m);
}

}  // namespace

TorchLayout infer_layout(const std::vector<RankProfile>& ranks) {
  const int n = static_cast<int>(ranks.size());
  TorchLayout t;
  for (int r = 0; r < n; ++r) t.devices.push_back({.device = r});
  const std::string& backend = ranks[0].backend;
  t.label =
      fmt::format("pytorch ({}{} rank{}): ", backend.empty() ? "" : backend + ", ", n, n == 1 ? "" : "s");
  const bool transfers = any_call(ranks, is_transfer);
  if (n == 1) {
    t.info.known = true;
    t.label += "one device";
  } else if (transfers && n == 2) {
    pipeline_layout(ranks, t);
  } else if (!transfers && any_call(ranks, is_gradient_collective)) {
    t.info.dp    = n;
    t.info.known = true;
    for (int r = 0; r < n; ++r) t.devices[r].dp = r;
    t.label += fmt::format("data parallel dp{}", n);
  } else {
    t.label += transfers ? "send/recv between more than two ranks (peers unknown)" : "no communication";
  }
  return t;
}

}  // namespace paraxis::trace::torch
