// Waiting, told apart from communication (docs/analysis.md, "Waiting"): a device that entered a transfer or a
// collective before its peer spent the time until the peer arrived waiting, not moving data. The peer's
// arrival is what every trace records, whatever its source: the begin of the partner's SEND or RECV (matched
// by match_flows), or the latest entry among a collective's members (grouped by call). The same rule
// reads runtime traces (threads or MPI, merged onto one clock), predicted traces and other frameworks'.
#include <algorithm>
#include <map>
#include <tuple>

#include "paraxis/trace/analysis.h"

namespace paraxis::trace {
namespace {

// [event begin, peer arrival), cut at the event's end: nothing when the peer was there first.
void add_wait(WaitingSpans& spans, int device, const Event& e, int64_t peer_arrival) {
  const int64_t end = std::min(peer_arrival, e.t_end_ns);
  if (end > e.t_begin_ns) spans[device].push_back({e.t_begin_ns, end});
}

// Both ends of every matched transfer: whichever began first waited for the other.
void transfer_waits(const TraceSet& set, const FlowMatch& flows, WaitingSpans& spans) {
  for (const Flow& f : flows.flows) {
    const Event& send = set.events[f.src_device][f.src_index];
    const Event& recv = set.events[f.dst_device][f.dst_index];
    add_wait(spans, f.dst_device, recv, send.t_begin_ns);
    add_wait(spans, f.src_device, send, recv.t_begin_ns);
  }
}

// Every member of a collective (one call on two or more devices) waited for the last to enter.
void collective_waits(const TraceSet& set, WaitingSpans& spans) {
  struct Member {
    int device;
    const Event* event;
  };
  // One call: the same kind and flow id, else the same kind and sequence number (as the critical path).
  std::map<std::tuple<Kind, bool, int64_t>, std::vector<Member>> calls;
  for (int d = 0; d < set.num_devices(); ++d)
    for (const Event& e : set.events[d])
      if (is_collective(e.kind) && (e.flow_id >= 0 || e.seq >= 0))
        calls[{e.kind, e.flow_id >= 0, e.flow_id >= 0 ? e.flow_id : e.seq}].push_back({d, &e});
  for (const auto& [key, members] : calls) {
    if (members.size() < 2) continue;
    int64_t last = members.front().event->t_begin_ns;
    for (const Member& m : members) last = std::max(last, m.event->t_begin_ns);
    for (const Member& m : members) add_wait(spans, m.device, *m.event, last);
  }
}

}  // namespace

WaitingSpans waiting_spans(const TraceSet& set, const FlowMatch& flows) {
  WaitingSpans spans(set.num_devices());
  for (int d = 0; d < set.num_devices(); ++d)
    for (const Event& e : set.events[d])
      if (e.kind == Kind::kWait) spans[d].push_back({e.t_begin_ns, e.t_end_ns});
  transfer_waits(set, flows, spans);
  collective_waits(set, spans);
  for (auto& s : spans) std::sort(s.begin(), s.end());
  return spans;
}

WaitingSpans waiting_spans(const TraceSet& set) {
  return waiting_spans(set, match_flows(set));
}

}  // namespace paraxis::trace
