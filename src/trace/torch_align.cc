// Aligning the clocks of PyTorch rank traces (torch_profile.h). NOTE [torch clock bounds]: every rank's
// profiler counts from its own start, so rank r's clock differs from rank 0's by an unknown shift x_r. What
// the calls show bounds the shifts: a receive on rank b cannot end before its send on rank a began
// (end_b + x_b ≥ begin_a + x_a), and no member leaves a collective before the last member entered
// (end_i + x_i ≥ begin_j + x_j for every pair). The recorded begin of a call is at or before the moment it
// really entered and the recorded end at or after it really left, so the bounds hold however late gloo's
// callbacks close its events. Each bound is x_a − x_b ≤ c, a system of difference constraints: its
// shortest-path closure gives each shift's interval; the shift is the interval's middle, fixed rank by rank.
#include <fmt/format.h>

#include <algorithm>
#include <limits>

#include "paraxis/core/error.h"
#include "trace/torch_profile.h"

namespace paraxis::trace::torch {

std::map<CallKey, const Call*> keyed_calls(const RankProfile& p) {
  std::map<std::pair<int, Kind>, int> counts;
  std::map<CallKey, const Call*> out;
  for (const Call& c : p.calls) out[{c.step, c.kind, counts[{c.step, c.kind}]++}] = &c;
  return out;
}

namespace {

constexpr int64_t kNone  = std::numeric_limits<int64_t>::max() / 4;
constexpr int64_t kSlack = 2000;  // ns: the legacy format rounds ts and dur to whole microseconds

// bound[i][j]: the largest x_j − x_i the calls allow (kNone: unbounded).
using Bounds = std::vector<std::vector<int64_t>>;

void limit(Bounds& b, int i, int j, int64_t c) {
  b[i][j] = std::min(b[i][j], c + kSlack);
}

// Collectives: the same key on every rank is one collective of all ranks (the default group).
void collective_bounds(const std::vector<std::map<CallKey, const Call*>>& keyed, Bounds& b) {
  const int n = static_cast<int>(keyed.size());
  for (const auto& [key, call] : keyed[0]) {
    if (!is_collective(key.kind)) continue;
    std::vector<const Call*> members;
    for (const auto& k : keyed)
      if (auto it = k.find(key); it != k.end()) members.push_back(it->second);
    if (static_cast<int>(members.size()) != n) continue;
    for (int i = 0; i < n; ++i)
      for (int j = 0; j < n; ++j)
        if (i != j) limit(b, i, j, members[i]->end_ns - members[j]->begin_ns);
  }
}

// Two ranks: the k-th send of a step on one is the k-th receive of that step on the other.
void transfer_bounds(const std::vector<std::map<CallKey, const Call*>>& keyed, Bounds& b) {
  if (keyed.size() != 2) return;
  for (int a = 0; a < 2; ++a)
    for (const auto& [key, send] : keyed[a]) {
      if (key.kind != Kind::kSend) continue;
      auto recv = keyed[1 - a].find({key.step, Kind::kRecv, key.index});
      if (recv != keyed[1 - a].end()) limit(b, 1 - a, a, recv->second->end_ns - send->begin_ns);
    }
}

std::string step_name(int step) {
  return step < 0 ? std::string("the events outside any ProfilerStep") : fmt::format("ProfilerStep#{}", step);
}

// Two ranks run one program: in every step both mark, each message one sends the other receives, and both
// make the same collective calls (every member calls collectives in the same order). Files of different runs
// break this.
void check_same_run(const std::vector<RankProfile>& ranks) {
  if (ranks.size() != 2) return;
  std::map<std::pair<int, Kind>, int> count[2];
  for (int r = 0; r < 2; ++r)
    for (const Call& c : ranks[r].calls) ++count[r][{c.step, c.kind}];
  for (int a = 0; a < 2; ++a)
    for (const auto& [key, n] : count[a]) {
      const auto [step, kind] = key;
      if (step < 0 || !ranks[1 - a].steps.count(step)) continue;
      const Kind partner = kind == Kind::kSend ? Kind::kRecv : kind == Kind::kRecv ? Kind::kSend : kind;
      auto it            = count[1 - a].find({step, partner});
      const int m        = it == count[1 - a].end() ? 0 : it->second;
      PX_USER_CHECK(
          n == m,
          "{} and {} are not one run: in {} rank {} makes {} {} call{} and rank {} makes {} {}; give "
          "the rank files of one run, profiled over the same steps",
          ranks[a].what, ranks[1 - a].what, step_name(step), a, n, kind_name(kind), n == 1 ? "" : "s", 1 - a,
          m, kind_name(partner));
    }
}

void close(Bounds& b) {
  const size_t n = b.size();
  for (size_t k = 0; k < n; ++k)
    for (size_t i = 0; i < n; ++i)
      for (size_t j = 0; j < n; ++j)
        if (b[i][k] < kNone && b[k][j] < kNone) b[i][j] = std::min(b[i][j], b[i][k] + b[k][j]);
}

void check_consistent(const Bounds& b, const std::vector<RankProfile>& ranks) {
  for (size_t i = 0; i < b.size(); ++i)
    PX_USER_CHECK(b[i][i] >= 0,
                  "cannot align {} with the other ranks: its calls contradict theirs (a receive would end "
                  "before its send began, or a collective before its last member entered), so the files are "
                  "not one run profiled over the same steps; give the rank files of one run, each profiled "
                  "over the same ProfilerStep numbers",
                  ranks[i].what);
}

}  // namespace

std::vector<ClockSync> align_clocks(const std::vector<RankProfile>& ranks) {
  const int n = static_cast<int>(ranks.size());
  check_same_run(ranks);
  std::vector<std::map<CallKey, const Call*>> keyed;
  for (const RankProfile& p : ranks) keyed.push_back(keyed_calls(p));
  Bounds b(n, std::vector<int64_t>(n, kNone));
  for (int i = 0; i < n; ++i) b[i][i] = 0;
  collective_bounds(keyed, b);
  transfer_bounds(keyed, b);
  close(b);
  check_consistent(b, ranks);
  std::vector<ClockSync> clocks = {{0, 0, 0}};
  for (int r = 1; r < n; ++r) {
    const char* found = b[0][r] < kNone   ? "only an upper bound"
                        : b[r][0] < kNone ? "only a lower bound"
                                          : "none";
    PX_USER_CHECK(
        b[0][r] < kNone && b[r][0] < kNone,
        "cannot align {} (rank {}) with {} (rank 0): its clock offset needs a bound on each side "
        "from a send/recv between them or a collective every rank recorded in the same "
        "ProfilerStep, and the calls give {}; give the rank files of one run, profiled over the same "
        "steps (a collective per step, e.g. the gradients' all-reduce or a dist.barrier(), links "
        "them)",
        ranks[r].what, r, ranks[0].what, found);
    const int64_t lo = -b[r][0], hi = b[0][r], shift = lo + (hi - lo) / 2;
    clocks.push_back({r, -shift, (hi - lo) / 2});
    b[0][r] = shift;
    b[r][0] = -shift;
    close(b);
  }
  return clocks;
}

}  // namespace paraxis::trace::torch
