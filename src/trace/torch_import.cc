// PyTorch profiler traces → one TraceSet (torch_trace.h): which files are which ranks, their clocks aligned,
// their layout, their events.
#include <algorithm>
#include <limits>
#include <optional>

#include "paraxis/core/error.h"
#include "paraxis/trace/torch_trace.h"
#include "trace/torch_profile.h"

namespace paraxis::trace {

using nlohmann::json;

bool is_torch_trace(const json& doc) {
  if (doc.is_object() &&
      (doc.contains("distributedInfo") || doc.contains("schemaVersion") || doc.contains("deviceProperties")))
    return true;
  const json* events = doc.is_array() ? &doc
                       : doc.is_object() && doc.contains("traceEvents") && doc["traceEvents"].is_array()
                           ? &doc["traceEvents"]
                           : nullptr;
  if (!events) return false;
  for (const json& e : *events) {
    if (!e.is_object()) continue;
    if (e.contains("pid") && e["pid"] == "CPU functions") return true;
    if (e.contains("cat") && (e["cat"] == "cpu_op" || e["cat"] == "user_annotation")) return true;
  }
  return false;
}

TorchRankInfo torch_rank_info(const json& doc) {
  TorchRankInfo info;
  if (!doc.is_object() || !doc.contains("distributedInfo") || !doc["distributedInfo"].is_object())
    return info;
  const json& d = doc["distributedInfo"];
  if (d.contains("rank") && d["rank"].is_number_integer()) info.rank = d["rank"].get<int>();
  if (d.contains("world_size") && d["world_size"].is_number_integer())
    info.world_size = d["world_size"].get<int>();
  return info;
}

namespace {

using torch::RankProfile;

// ranks[i] holds rank i: every rank of the run present once.
std::vector<RankProfile> order_ranks(std::vector<RankProfile> all) {
  const int n = static_cast<int>(all.size());
  for (const RankProfile& p : all)
    PX_USER_CHECK(p.world_size < 0 || p.world_size == n,
                  "{} is rank {} of a {}-rank run, but {} rank file{} given; give the files of all {} ranks",
                  p.what, p.rank, p.world_size, n, n == 1 ? " was" : "s were", p.world_size);
  std::vector<int> slot(n, -1);
  for (int i = 0; i < n; ++i) {
    const int r = all[i].rank;
    PX_USER_CHECK(r >= 0 && r < n, "{} says it is rank {}, but {} rank files were given (ranks 0..{})",
                  all[i].what, r, n, n - 1);
    PX_USER_CHECK(slot[r] < 0, "{} and {} both say they are rank {}; give one file per rank of one run",
                  all[slot[r] < 0 ? i : slot[r]].what, all[i].what, r);
    slot[r] = i;
  }
  std::vector<RankProfile> out;
  for (int r = 0; r < n; ++r) out.push_back(std::move(all[slot[r]]));
  return out;
}

// Every file's profiles; a file that names no rank is the rank of its position among the files.
std::vector<RankProfile> read_ranks(std::span<const TorchFile> files) {
  std::vector<RankProfile> all;
  for (size_t i = 0; i < files.size(); ++i) {
    std::vector<RankProfile> ps = torch::read_profiles(files[i].doc, files[i].what);
    PX_USER_CHECK(ps.size() == 1 || files.size() == 1,
                  "{} is a merged trace of {} processes; give it alone, or give one file per rank",
                  files[i].what, ps.size());
    if (ps.size() == 1 && ps[0].rank < 0) ps[0].rank = static_cast<int>(i);
    for (RankProfile& p : ps) all.push_back(std::move(p));
  }
  return order_ranks(std::move(all));
}

// Pipelines: a compute event's micro-batch from the transfers around it, counted within its step. Stage 0
// forwards micro-batch k before its k-th send and runs k's backward after its k-th receive; stage 1 forwards
// k after its k-th receive and runs k's backward before its k-th send (GPipe and 1F1B alike). Work outside
// 0..m-1 (making the batch before the first receive, buffers after the last send) keeps -1.
void number_microbatches(std::vector<Event>& events, const std::map<int, Step>& steps, int stage, int m) {
  std::sort(events.begin(), events.end(),
            [](const Event& a, const Event& b) { return a.t_begin_ns < b.t_begin_ns; });
  int step = -2, sends = 0, recvs = 0;
  for (Event& e : events) {
    if (const int s = torch::step_at(steps, e.t_begin_ns); s != step) step = s, sends = recvs = 0;
    int mb = -1;
    if (e.kind == Kind::kSend) mb = sends++;
    if (e.kind == Kind::kRecv) mb = recvs++;
    if (e.kind == Kind::kForward) mb = stage == 0 ? sends : recvs - 1;
    if (e.kind == Kind::kBackward) mb = stage == 0 ? recvs - 1 : sends;
    e.microbatch = mb >= 0 && mb < m ? mb : -1;
  }
}

// Rank `rank`'s events on rank 0's clock: its compute, then its calls (send/recv with the other rank as peer
// when there are two, seq numbering each kind's calls), all on its stage and micro-batch when the layout has
// stages.
std::vector<Event> rank_events(const RankProfile& p, int rank, const torch::TorchLayout& l, int64_t shift) {
  std::vector<Event> out = p.compute;
  std::map<Kind, int> seq;
  for (const torch::Call& c : p.calls) {
    Event e;
    e.kind       = c.kind;
    e.track      = Track::kComm;
    e.t_begin_ns = c.begin_ns;
    e.t_end_ns   = c.end_ns;
    e.seq        = seq[c.kind]++;
    if ((c.kind == Kind::kSend || c.kind == Kind::kRecv) && l.devices.size() == 2) e.peer = 1 - rank;
    out.push_back(e);
  }
  if (l.info.pp > 1) number_microbatches(out, p.steps, l.devices[rank].pp, l.info.m);
  for (Event& e : out) {
    e.t_begin_ns += shift;
    e.t_end_ns += shift;
    if (l.info.pp > 1) e.stage = static_cast<int16_t>(l.devices[rank].pp);
  }
  return out;
}

// Step n from the first rank's begin to the last rank's end, on rank 0's clock; nullopt when a rank does not
// mark it.
std::optional<Step> step_window(const std::vector<RankProfile>& ranks, const std::vector<ClockSync>& clocks,
                                int n) {
  Step w{std::numeric_limits<int64_t>::max(), std::numeric_limits<int64_t>::min()};
  for (size_t r = 0; r < ranks.size(); ++r) {
    auto it = ranks[r].steps.find(n);
    if (it == ranks[r].steps.end()) return std::nullopt;
    w.t_begin_ns = std::min(w.t_begin_ns, it->second.t_begin_ns - clocks[r].offset_ns);
    w.t_end_ns   = std::max(w.t_end_ns, it->second.t_end_ns - clocks[r].offset_ns);
  }
  return w;
}

// The steps every rank marks (ProfilerStep#N).
std::vector<Step> common_steps(const std::vector<RankProfile>& ranks, const std::vector<ClockSync>& clocks) {
  std::vector<Step> out;
  for (const auto& [n, first] : ranks[0].steps)
    if (std::optional<Step> w = step_window(ranks, clocks, n)) out.push_back(*w);
  const bool all_mark =
      std::all_of(ranks.begin(), ranks.end(), [](const RankProfile& p) { return !p.steps.empty(); });
  PX_USER_CHECK(!out.empty() || !all_mark,
                "{} and {} mark no common ProfilerStep#N; profile the same steps on every rank",
                ranks[0].what, ranks.back().what);
  return out;
}

}  // namespace

TraceSet from_torch_traces(std::span<const TorchFile> files) {
  PX_CHECK(!files.empty(), "from_torch_traces needs at least one file");
  const std::vector<RankProfile> ranks = read_ranks(files);
  const std::vector<ClockSync> clocks  = torch::align_clocks(ranks);
  const torch::TorchLayout layout      = torch::infer_layout(ranks);
  TraceSet set;
  set.layout      = layout.label;
  set.layout_info = layout.info;
  set.source      = "measured";
  set.devices     = layout.devices;
  for (size_t r = 0; r < ranks.size(); ++r)
    set.events.push_back(rank_events(ranks[r], static_cast<int>(r), layout, -clocks[r].offset_ns));
  set.steps = common_steps(ranks, clocks);
  if (ranks.size() > 1) set.clocks = clocks;
  return set;
}

}  // namespace paraxis::trace
