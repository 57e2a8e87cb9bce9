// Critical path: walk back from the last event, each time to the dependency that finished last.
// NOTE [critical path]: a trace has no explicit dependency graph, so the edges are inferred: an event depends
// on the previous event of its device (the latest one that ended before it began), a RECV also on its SEND,
// a collective on the last member to enter it. Choosing the latest-finishing dependency is what made the
// event start when it did, so the chain is the one whose shortening would shorten the step.
#include <algorithm>
#include <map>
#include <numeric>
#include <set>
#include <tuple>

#include "paraxis/trace/analysis.h"
#include "trace/intervals.h"

namespace paraxis::trace {
namespace {

struct Ref {
  int device   = -1;
  size_t index = 0;
  bool valid() const { return device >= 0; }
};

// Collective calls: members share (kind, flow id) when set, else (kind, seq).
using CallKey = std::tuple<int, int, int64_t>;

CallKey call_key(const Event& e) {
  return e.flow_id >= 0 ? CallKey{static_cast<int>(e.kind), 0, e.flow_id}
                        : CallKey{static_cast<int>(e.kind), 1, e.seq};
}

bool is_matched_collective(const Event& e) {
  return is_collective(e.kind) && (e.flow_id >= 0 || e.seq >= 0);
}

// The window's events and their inferred dependency edges (NOTE [critical path]).
struct Dependencies {
  const TraceSet* set = nullptr;
  std::vector<std::vector<size_t>> by_end;        // per device: the window's events sorted by end time
  std::map<std::pair<int, size_t>, Ref> send_of;  // RECV -> its SEND
  std::map<CallKey, std::vector<Ref>> calls;      // collective call -> its members

  const Event& at(Ref r) const { return set->events[r.device][r.index]; }
};

Dependencies dependencies(const TraceSet& set, int64_t lo, int64_t hi, const FlowMatch& flows) {
  const int n = set.num_devices();
  Dependencies g;
  g.set = &set;
  g.by_end.resize(n);
  for (int d = 0; d < n; ++d) {
    const auto& ev = set.events[d];
    for (size_t i = 0; i < ev.size(); ++i)
      if (ev[i].t_end_ns > lo && ev[i].t_begin_ns < hi) g.by_end[d].push_back(i);
    std::stable_sort(g.by_end[d].begin(), g.by_end[d].end(), [&](size_t a, size_t b) {
      if (ev[a].t_end_ns != ev[b].t_end_ns) return ev[a].t_end_ns < ev[b].t_end_ns;
      // On a tie the compute event is found first when walking back: it produced what follows.
      if (is_compute(ev[a].kind) != is_compute(ev[b].kind)) return !is_compute(ev[a].kind);
      return ev[a].t_begin_ns < ev[b].t_begin_ns;
    });
  }
  for (const Flow& f : flows.flows) g.send_of[{f.dst_device, f.dst_index}] = {f.src_device, f.src_index};
  for (int d = 0; d < n; ++d)
    for (size_t i : g.by_end[d]) {
      const Event& e = set.events[d][i];
      if (is_matched_collective(e)) g.calls[call_key(e)].push_back({d, i});
    }
  return g;
}

// The event that ends last (compute first on ties: the step ends when its work does).
Ref last_event(const Dependencies& g) {
  Ref cur;
  for (int d = 0; d < static_cast<int>(g.by_end.size()); ++d)
    for (size_t i : g.by_end[d]) {
      const Event& e = g.at({d, i});
      if (!cur.valid() || e.t_end_ns > g.at(cur).t_end_ns ||
          (e.t_end_ns == g.at(cur).t_end_ns && is_compute(e.kind) && !is_compute(g.at(cur).kind)))
        cur = {d, i};
    }
  return cur;
}

// The walk back from `cur`, latest first; each step's cross_device says the next one was reached from it
// across devices.
class Walk {
 public:
  explicit Walk(const Dependencies& g) : g_(g) {}

  std::vector<PathStep> from(Ref cur, int64_t lo) {
    std::vector<PathStep> reversed;
    bool crossed = false;
    while (cur.valid() && !seen(cur)) {
      visited_.insert({cur.device, cur.index});
      const Event& e = g_.at(cur);
      reversed.push_back({cur.device, e, crossed});
      crossed = false;
      // An event open at the window's start ends the walk, unless a peer it waited for arrived later.
      const Ref cross = cross_device(cur);
      if (e.t_begin_ns <= lo && !cross.valid()) break;
      const Ref same = e.t_begin_ns <= lo ? Ref{} : previous_on_device(cur.device, e.t_begin_ns);
      if (cross.valid() && (!same.valid() || g_.at(cross).t_end_ns >= g_.at(same).t_end_ns ||
                            (is_collective(e.kind) && g_.at(cross).t_begin_ns > g_.at(same).t_end_ns))) {
        cur     = cross;
        crossed = true;
      } else {
        cur = same;
      }
    }
    return reversed;
  }

 private:
  bool seen(Ref r) const { return visited_.count({r.device, r.index}) > 0; }

  // The latest event of device d that ended by time t and is not on the path yet.
  Ref previous_on_device(int d, int64_t t) const {
    const auto& order = g_.by_end[d];
    auto it           = std::upper_bound(order.begin(), order.end(), t, [&](int64_t v, size_t i) {
      return v < g_.at({d, i}).t_end_ns;
    });
    while (it != order.begin()) {
      --it;
      if (!seen({d, *it})) return {d, *it};
    }
    return {};
  }

  // The dependency on another device, not on the path yet: a RECV's SEND, or for a collective the last
  // member to enter it — it held everyone up, so the walk continues from what delayed it.
  Ref cross_device(Ref cur) const {
    const Event& e = g_.at(cur);
    if (e.kind == Kind::kRecv) {
      auto it = g_.send_of.find({cur.device, cur.index});
      if (it != g_.send_of.end() && !seen(it->second)) return it->second;
    } else if (is_matched_collective(e)) {
      Ref last = cur;
      auto it  = g_.calls.find(call_key(e));
      if (it != g_.calls.end())
        for (Ref m : it->second)
          if (g_.at(m).t_begin_ns > g_.at(last).t_begin_ns) last = m;
      if (last.device != cur.device && !seen(last)) return last;
    }
    return {};
  }

  const Dependencies& g_;
  std::set<std::pair<int, size_t>> visited_;
};

// How much of [b, e) lies in the spans (sorted, possibly overlapping): their union clipped to [b, e).
int64_t overlap(const std::vector<std::pair<int64_t, int64_t>>& spans, int64_t b, int64_t e) {
  detail::Intervals v;
  for (auto [sb, se] : spans) v.push_back({sb, se});
  return detail::length(detail::normalize(std::move(v), b, e));
}

// Attributes [first begin, last end] to the steps in time order; what no step covers is a gap. A transfer's
// or collective's time before its peer arrived (waiting_spans) is waiting, the rest communication.
void attribute(CriticalPath& path, int64_t lo, int64_t hi, const WaitingSpans& waits) {
  std::set<int> devices;
  int64_t covered     = std::max(lo, path.steps.front().event.t_begin_ns);
  const int64_t start = covered;
  for (const PathStep& s : path.steps) {
    devices.insert(s.device);
    const int64_t b = std::max(covered, std::max(lo, s.event.t_begin_ns));
    const int64_t e = std::min(hi, s.event.t_end_ns);
    if (b > covered) path.gap_ns += b - covered;
    if (e > b) {
      if (is_compute(s.event.kind)) {
        path.compute_ns += e - b;
      } else {
        const int64_t waited = overlap(waits[s.device], b, e);
        path.wait_ns += waited;
        path.comm_ns += e - b - waited;
      }
      covered = e;
    }
  }
  path.length_ns       = covered - start;
  path.devices_visited = static_cast<int>(devices.size());
}

}  // namespace

CriticalPath critical_path(const TraceSet& set, int64_t lo, int64_t hi, const FlowMatch& flows,
                           const WaitingSpans& waits) {
  const Dependencies g = dependencies(set, lo, hi, flows);
  CriticalPath path;
  const Ref last = last_event(g);
  if (!last.valid()) return path;
  const std::vector<PathStep> reversed = Walk(g).from(last, lo);
  // reversed[k].cross_device says it was reached from the later reversed[k-1] across devices; in time order
  // the flag moves to the later step, so that "⇒" is printed before it.
  path.steps.assign(reversed.rbegin(), reversed.rend());
  for (size_t k = path.steps.size(); k-- > 1;) path.steps[k].cross_device = path.steps[k - 1].cross_device;
  path.steps.front().cross_device = false;
  attribute(path, lo, hi, waits);
  return path;
}

}  // namespace paraxis::trace
