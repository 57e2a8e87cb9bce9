#include <algorithm>
#include <map>
#include <tuple>

#include "paraxis/trace/recorder.h"

namespace paraxis::trace {
namespace {
// (0, flow_id) when a flow id is set, (1, seq) when a sequence number is, (2, ordinal) otherwise.
using Key = std::pair<int, int64_t>;

std::map<Key, size_t> keyed(const std::vector<Event>& events, Kind kind, int peer) {
  std::vector<size_t> idx;
  for (size_t i = 0; i < events.size(); ++i)
    if (events[i].kind == kind && events[i].peer == peer) idx.push_back(i);
  std::stable_sort(idx.begin(), idx.end(),
                   [&](size_t a, size_t b) { return events[a].t_begin_ns < events[b].t_begin_ns; });
  std::map<Key, size_t> out;
  int64_t ordinal = 0;
  for (size_t i : idx) {
    const Event& e = events[i];
    Key k          = e.flow_id >= 0 ? Key{0, e.flow_id} : e.seq >= 0 ? Key{1, e.seq} : Key{2, ordinal++};
    out.emplace(k, i);
  }
  return out;
}
}  // namespace

FlowMatch match_flows(const TraceSet& set) {
  FlowMatch m;
  const int n = set.num_devices();
  for (int a = 0; a < n; ++a) {
    for (int b = 0; b < n; ++b) {
      if (a == b) continue;
      auto sends = keyed(set.events[a], Kind::kSend, b);
      auto recvs = keyed(set.events[b], Kind::kRecv, a);
      for (auto& [key, si] : sends) {
        auto it = recvs.find(key);
        if (it == recvs.end()) {
          ++m.unmatched_sends;
          continue;
        }
        m.flows.push_back({a, b, si, it->second});
        recvs.erase(it);
      }
      m.unmatched_recvs += static_cast<int>(recvs.size());
    }
  }
  // Sends and receives whose peer is outside the trace have no partner either.
  for (int d = 0; d < n; ++d)
    for (const Event& e : set.events[d])
      if ((e.kind == Kind::kSend || e.kind == Kind::kRecv) && (e.peer < 0 || e.peer >= n || e.peer == d))
        ++(e.kind == Kind::kSend ? m.unmatched_sends : m.unmatched_recvs);
  return m;
}

}  // namespace paraxis::trace
