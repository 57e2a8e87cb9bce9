// Critical path: walk back from the last event, each time to the dependency that finished last.
// NOTE [critical path]: a trace has no explicit dependency graph, so the edges are inferred: an event depends
// on the previous event of its device (the latest one that ended before it began), a RECV also on its SEND,
// a collective on the last member to enter it. Choosing the latest-finishing dependency is what made the
// event start when it did, so the chain is the one whose shortening would shorten the step.
#include <algorithm>
#include <map>
#include <numeric>
#include <set>

#include "paraxis/trace/analysis.h"

namespace paraxis::trace {
namespace {

struct Ref {
  int device   = -1;
  size_t index = 0;
  bool valid() const { return device >= 0; }
};

}  // namespace

CriticalPath critical_path(const TraceSet& set, int64_t lo, int64_t hi, const FlowMatch& flows) {
  const int n = set.num_devices();
  // Per device: indices of the window's events sorted by end time.
  std::vector<std::vector<size_t>> by_end(n);
  for (int d = 0; d < n; ++d) {
    const auto& ev = set.events[d];
    for (size_t i = 0; i < ev.size(); ++i)
      if (ev[i].t_end_ns > lo && ev[i].t_begin_ns < hi) by_end[d].push_back(i);
    std::stable_sort(by_end[d].begin(), by_end[d].end(), [&](size_t a, size_t b) {
      if (ev[a].t_end_ns != ev[b].t_end_ns) return ev[a].t_end_ns < ev[b].t_end_ns;
      // On a tie the compute event is found first when walking back: it produced what follows.
      if (is_compute(ev[a].kind) != is_compute(ev[b].kind)) return !is_compute(ev[a].kind);
      return ev[a].t_begin_ns < ev[b].t_begin_ns;
    });
  }
  std::map<std::pair<int, size_t>, Ref> send_of;  // RECV -> its SEND
  for (const Flow& f : flows.flows) send_of[{f.dst_device, f.dst_index}] = {f.src_device, f.src_index};
  // Collective calls: members share (kind, flow id) when set, else (kind, seq).
  std::map<std::tuple<int, int, int64_t>, std::vector<Ref>> calls;
  auto call_key = [](const Event& e) {
    return e.flow_id >= 0 ? std::tuple<int, int, int64_t>{static_cast<int>(e.kind), 0, e.flow_id}
                          : std::tuple<int, int, int64_t>{static_cast<int>(e.kind), 1, e.seq};
  };
  for (int d = 0; d < n; ++d)
    for (size_t i : by_end[d]) {
      const Event& e = set.events[d][i];
      if (is_collective(e.kind) && (e.flow_id >= 0 || e.seq >= 0)) calls[call_key(e)].push_back({d, i});
    }

  std::set<std::pair<int, size_t>> visited;
  auto at = [&](Ref r) -> const Event& { return set.events[r.device][r.index]; };
  // The latest event of device d that ended by time t and is not on the path yet.
  auto previous_on_device = [&](int d, int64_t t) -> Ref {
    const auto& order = by_end[d];
    auto it           = std::upper_bound(order.begin(), order.end(), t,
                                         [&](int64_t v, size_t i) { return v < set.events[d][i].t_end_ns; });
    while (it != order.begin()) {
      --it;
      if (!visited.count({d, *it})) return {d, *it};
    }
    return {};
  };

  // Start from the event that ends last (compute first on ties: the step ends when its work does).
  Ref cur;
  for (int d = 0; d < n; ++d)
    for (size_t i : by_end[d]) {
      const Event& e = set.events[d][i];
      if (!cur.valid() || e.t_end_ns > at(cur).t_end_ns ||
          (e.t_end_ns == at(cur).t_end_ns && is_compute(e.kind) && !is_compute(at(cur).kind)))
        cur = {d, i};
    }
  CriticalPath path;
  if (!cur.valid()) return path;
  std::vector<PathStep> reversed;
  bool crossed = false;
  while (cur.valid() && !visited.count({cur.device, cur.index})) {
    visited.insert({cur.device, cur.index});
    const Event& e = at(cur);
    reversed.push_back({cur.device, e, crossed});
    crossed = false;
    if (e.t_begin_ns <= lo) break;
    Ref same = previous_on_device(cur.device, e.t_begin_ns);
    Ref cross;
    if (e.kind == Kind::kRecv) {
      auto it = send_of.find({cur.device, cur.index});
      if (it != send_of.end() && !visited.count({it->second.device, it->second.index})) cross = it->second;
    } else if (is_collective(e.kind) && (e.flow_id >= 0 || e.seq >= 0)) {
      // The last member to enter held everyone up; continue from what delayed it.
      Ref last = cur;
      for (Ref m : calls[call_key(e)])
        if (at(m).t_begin_ns > at(last).t_begin_ns) last = m;
      if (last.device != cur.device && !visited.count({last.device, last.index})) cross = last;
    }
    if (cross.valid() && (!same.valid() || at(cross).t_end_ns >= at(same).t_end_ns ||
                          (is_collective(e.kind) && at(cross).t_begin_ns > at(same).t_end_ns))) {
      cur     = cross;
      crossed = true;
    } else {
      cur = same;
    }
  }
  // reversed[k].cross_device says it was reached from the later reversed[k-1] across devices; in time order
  // the flag moves to the later step, so that "⇒" is printed before it.
  path.steps.assign(reversed.rbegin(), reversed.rend());
  for (size_t k = path.steps.size(); k-- > 1;) path.steps[k].cross_device = path.steps[k - 1].cross_device;
  path.steps.front().cross_device = false;

  // Attribute [first begin, last end] to the steps in time order; what no step covers is a gap.
  std::set<int> devices;
  int64_t covered     = std::max(lo, path.steps.front().event.t_begin_ns);
  const int64_t start = covered;
  for (const PathStep& s : path.steps) {
    devices.insert(s.device);
    const int64_t b = std::max(covered, std::max(lo, s.event.t_begin_ns));
    const int64_t e = std::min(hi, s.event.t_end_ns);
    if (b > covered) path.gap_ns += b - covered;
    if (e > b) {
      if (s.event.kind == Kind::kWait)
        path.wait_ns += e - b;
      else if (is_compute(s.event.kind))
        path.compute_ns += e - b;
      else
        path.comm_ns += e - b;
      covered = e;
    }
  }
  path.length_ns       = covered - start;
  path.devices_visited = static_cast<int>(devices.size());
  return path;
}

}  // namespace paraxis::trace
