// One PyTorch profiler file → the profile of each rank it holds (torch_profile.h): the outermost operators of
// every thread as compute, the communication calls, the ProfilerStep windows. The rules are listed in
// include/paraxis/trace/torch_trace.h; scripts/torch-traces trims its fixtures by the same nesting rule.
#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <limits>
#include <optional>
#include <string_view>

#include "paraxis/core/error.h"
#include "paraxis/trace/torch_trace.h"
#include "trace/intervals.h"
#include "trace/torch_profile.h"
#include "trace/trace_time.h"

namespace paraxis::trace::torch {
namespace {

using nlohmann::json;

struct RawEvent {
  std::string name, cat, thread;
  int64_t begin_ns = 0, end_ns = 0;
  const json* args = nullptr;
};

// What an event is to the reader. Annotations (containers) are looked through; an operator's children are
// its own work; communication is read at any depth.
enum class Role { kIgnore, kStep, kContainer, kOperator, kComm };

constexpr std::array<std::string_view, 6> kCommPrefixes = {
    "c10d::", "gloo:", "nccl:", "mpi:", "ucc:", "record_param_comms"};

bool is_comm_name(std::string_view name) {
  return std::any_of(kCommPrefixes.begin(), kCommPrefixes.end(),
                     [&](std::string_view p) { return name.starts_with(p); });
}

// c10d:: operators and record_param_comms are the call as the program made it; gloo:/nccl:/mpi:/ucc: events
// are the backend's work for it (on the same thread, or on a worker thread for gloo's async work).
bool is_front(std::string_view name) {
  return name.starts_with("c10d::") || name.starts_with("record_param_comms");
}

// The communication's own name: PyTorch 2's record_param_comms names it in args["Collective name"].
std::string comm_name(const RawEvent& e) {
  if (e.name.starts_with("record_param_comms") && e.args && e.args->contains("Collective name") &&
      (*e.args)["Collective name"].is_string())
    return (*e.args)["Collective name"].get<std::string>();
  return e.name;
}

// "c10d::allreduce_", "gloo:all_reduce", "nccl:_reduce_scatter_base", ... → the kind; rooted reduce, gather
// and scatter read as ALLREDUCE, ALLGATHER and BROADCAST. nullopt: not a communication paraxis knows.
std::optional<Kind> comm_kind(const std::string& name) {
  std::string key;
  for (char c : name.substr(name.find(':') == std::string::npos ? 0 : name.rfind(':') + 1))
    if (c != '_') key += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  static const std::pair<std::string_view, Kind> table[] = {
      {"reducescatter", Kind::kReduceScatter},
      {"allreduce", Kind::kAllReduce},
      {"allgather", Kind::kAllGather},
      {"alltoall", Kind::kAllToAll},
      {"barrier", Kind::kBarrier},
      {"broadcast", Kind::kBroadcast},
      {"recv", Kind::kRecv},
      {"send", Kind::kSend},
      {"reduce", Kind::kAllReduce},
      {"gather", Kind::kAllGather},
      {"scatter", Kind::kBroadcast},
  };
  for (auto [word, kind] : table)
    if (key.find(word) != std::string::npos) return kind;
  return std::nullopt;
}

// An outermost operator's kind: the autograd engine's functions (and DDP's reducer, which runs inside
// backward) are backward; the optimizer's step is OPT; anything else (the model, the loss, making the batch)
// is forward.
Kind operator_kind(std::string_view name) {
  if (name.starts_with("autograd::engine::evaluate_function") || name.find("Backward") != std::string::npos ||
      name.starts_with("torch.distributed.ddp.reducer::"))
    return Kind::kBackward;
  if (name.starts_with("Optimizer.step")) return Kind::kOptStep;
  if (name.starts_with("Optimizer.zero_grad")) return Kind::kOther;
  return Kind::kForward;
}

// ProfilerStep#N → N; -1 for any other name.
int step_number(std::string_view name) {
  constexpr std::string_view prefix = "ProfilerStep#";
  if (!name.starts_with(prefix) || name.size() == prefix.size() || name.size() > prefix.size() + 9) return -1;
  int n = 0;
  for (char c : name.substr(prefix.size())) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return -1;
    n = 10 * n + (c - '0');
  }
  return n;
}

// Kineto's categories for CPU operators and annotations; the legacy format has none. Runtime calls, flows and
// GPU work are other categories.
bool is_cpu_category(std::string_view cat) {
  return cat.empty() || cat == "cpu_op" || cat == "user_annotation" || cat == "python_function";
}

Role role_of(const RawEvent& e) {
  if (!is_cpu_category(e.cat)) return Role::kIgnore;
  if (step_number(e.name) >= 0) return Role::kStep;
  if (is_comm_name(e.name)) return comm_kind(comm_name(e)) ? Role::kComm : Role::kContainer;
  if (e.name.starts_with("Optimizer.") || e.cat == "cpu_op" ||
      (e.cat.empty() && e.name.find("::") != std::string::npos))
    return Role::kOperator;
  return Role::kContainer;
}

// One communication event that is not inside another of its class (front or backend) on its thread.
struct Piece {
  Kind kind        = Kind::kOther;
  bool front       = false;
  int64_t begin_ns = 0, end_ns = 0;
};

// What one thread shows: its outermost operators, its communication pieces, the time it spent in any
// communication event (cut out of the operators) and the steps it marks.
struct ThreadRead {
  std::vector<Event> ops;
  std::vector<Piece> pieces;
  detail::Intervals comm;
  std::map<int, Step> steps;
};

struct Frame {
  const RawEvent* event;
  Role role;
};

// Records one event given the frames that enclose it (outermost first).
void visit(const RawEvent& e, Role role, const std::vector<Frame>& stack, ThreadRead& out) {
  auto inside = [&](auto pred) { return std::any_of(stack.begin(), stack.end(), pred); };
  if (role == Role::kStep) {
    out.steps[step_number(e.name)] = {e.begin_ns, e.end_ns};
  } else if (role == Role::kComm) {
    out.comm.push_back({e.begin_ns, e.end_ns});
    const bool front = is_front(e.name);
    if (!inside([&](const Frame& f) { return f.role == Role::kComm && is_front(f.event->name) == front; }))
      out.pieces.push_back({*comm_kind(comm_name(e)), front, e.begin_ns, e.end_ns});
  } else if (role == Role::kOperator &&
             !inside([](const Frame& f) { return f.role == Role::kOperator || f.role == Role::kComm; })) {
    Event op;
    op.kind       = operator_kind(e.name);
    op.track      = Track::kCompute;
    op.t_begin_ns = e.begin_ns;
    op.t_end_ns   = e.end_ns;
    out.ops.push_back(op);
  }
}

// Nesting by time: an event belongs to every event on the stack that has not ended when it begins.
ThreadRead walk_thread(std::vector<const RawEvent*> events) {
  std::sort(events.begin(), events.end(), [](const RawEvent* a, const RawEvent* b) {
    return a->begin_ns != b->begin_ns ? a->begin_ns < b->begin_ns : a->end_ns > b->end_ns;
  });
  ThreadRead out;
  std::vector<Frame> stack;
  for (const RawEvent* e : events) {
    while (!stack.empty() && stack.back().event->end_ns <= e->begin_ns) stack.pop_back();
    const Role role = role_of(*e);
    if (role == Role::kIgnore) continue;
    visit(*e, role, stack, out);
    stack.push_back({e, role});
  }
  return out;
}

// The operators' compute with the thread's communication cut out (a c10d call made inside an autograd
// function is communication, not the function's compute).
void add_compute(const ThreadRead& t, std::vector<Event>& compute) {
  const detail::Intervals comm =
      detail::normalize(t.comm, std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max());
  for (const Event& op : t.ops) {
    int64_t at = op.t_begin_ns;
    for (const detail::Interval& c : comm) {
      if (c.end <= at || c.begin >= op.t_end_ns) continue;
      if (c.begin > at)
        compute.push_back(op), compute.back().t_begin_ns = at, compute.back().t_end_ns = c.begin;
      at = std::max(at, c.end);
    }
    if (at < op.t_end_ns) compute.push_back(op), compute.back().t_begin_ns = at;
  }
}

// Calls from pieces: each backend piece joins the latest call of its kind that began at or before it; a
// backend piece with none (a trace without c10d events) is a call of its own.
std::vector<Call> join_pieces(std::vector<Piece> pieces) {
  std::stable_sort(pieces.begin(), pieces.end(), [](const Piece& a, const Piece& b) {
    return a.front != b.front ? a.front : a.begin_ns < b.begin_ns;
  });
  std::vector<Call> calls;
  for (const Piece& p : pieces) {
    auto joined = std::find_if(calls.rbegin(), calls.rend(),
                               [&](const Call& c) { return c.kind == p.kind && c.begin_ns <= p.begin_ns; });
    if (!p.front && joined != calls.rend())
      joined->end_ns = std::max(joined->end_ns, p.end_ns);
    else
      calls.push_back({p.kind, p.begin_ns, p.end_ns, -1});
  }
  std::sort(calls.begin(), calls.end(), [](const Call& a, const Call& b) { return a.begin_ns < b.begin_ns; });
  return calls;
}

RankProfile read_process(const std::vector<RawEvent>& events, const std::string& what) {
  std::map<std::string, std::vector<const RawEvent*>> threads;
  for (const RawEvent& e : events) threads[e.thread].push_back(&e);
  RankProfile p;
  p.what = what;
  std::vector<Piece> pieces;
  for (auto& [name, evs] : threads) {
    ThreadRead t = walk_thread(std::move(evs));
    add_compute(t, p.compute);
    pieces.insert(pieces.end(), t.pieces.begin(), t.pieces.end());
    for (auto [n, s] : t.steps) p.steps.emplace(n, s);
  }
  p.calls = join_pieces(std::move(pieces));
  for (Call& c : p.calls) c.step = step_at(p.steps, c.begin_ns);
  return p;
}

std::string string_field(const json& ev, const char* key) {
  auto it = ev.find(key);
  if (it == ev.end()) return "";
  return it->is_string() ? it->get<std::string>() : it->dump();
}

// traceEvents[index], a complete event ("ph": "X").
RawEvent raw_event(const json& ev, size_t index, const std::string& what) {
  PX_USER_CHECK(
      ev.contains("name") && ev["name"].is_string() && ev.contains("ts") && ev["ts"].is_number() &&
          ev.contains("dur") && ev["dur"].is_number(),
      "{}: traceEvents[{}] is a complete event (\"ph\": \"X\") without a name and numeric ts and dur", what,
      index);
  const double dur = ev["dur"].get<double>();
  PX_USER_CHECK(dur >= 0, "{}: traceEvents[{}] has a negative duration {}", what, index, dur);
  RawEvent e;
  e.name     = ev["name"].get<std::string>();
  e.cat      = string_field(ev, "cat");
  e.thread   = string_field(ev, "tid");
  e.begin_ns = trace_ns(ev["ts"].get<double>(), "ts", what);
  e.end_ns   = e.begin_ns + trace_ns(dur, "dur", what);
  if (ev.contains("args") && ev["args"].is_object()) e.args = &ev["args"];
  return e;
}

// The document's events: the document itself (the legacy format's list) or its traceEvents.
const json& event_list(const json& doc, const std::string& what) {
  if (doc.is_array()) return doc;
  PX_USER_CHECK(doc.is_object() && doc.contains("traceEvents") && doc["traceEvents"].is_array(),
                "{} is not a Chrome trace: expected an object with a \"traceEvents\" array (or an array of "
                "events)",
                what);
  return doc["traceEvents"];
}

// The CPU-side complete events per process, in order of each process's first event.
std::vector<std::vector<RawEvent>> processes(const json& doc, const std::string& what) {
  std::vector<std::string> order;
  std::map<std::string, std::vector<RawEvent>> by_pid;
  size_t index = 0;
  for (const json& ev : event_list(doc, what)) {
    ++index;
    if (!ev.is_object() || ev.value("ph", json()) != "X") continue;
    RawEvent e = raw_event(ev, index - 1, what);
    PX_USER_CHECK(
        e.cat != "kernel" && e.cat != "Kernel",
        "{} holds GPU kernel events (traceEvents[{}], \"cat\": \"{}\"); paraxis reads the CPU side of "
        "PyTorch traces only (operators, gloo/MPI calls), and a GPU run's work is its kernels; give "
        "a trace of a CPU run (scripts/torch-traces shows one)",
        what, index - 1, e.cat);
    if (!is_cpu_category(e.cat)) continue;
    const std::string pid = string_field(ev, "pid");
    if (!by_pid.count(pid)) order.push_back(pid);
    by_pid[pid].push_back(std::move(e));
  }
  PX_USER_CHECK(!order.empty(),
                "{} holds no CPU operator events (\"ph\": \"X\"); give a trace of torch.profiler with "
                "ProfilerActivity.CPU",
                what);
  std::vector<std::vector<RawEvent>> out;
  for (const std::string& pid : order) out.push_back(std::move(by_pid[pid]));
  return out;
}

}  // namespace

int step_at(const std::map<int, Step>& steps, int64_t t) {
  for (const auto& [n, s] : steps)
    if (t >= s.t_begin_ns && t < s.t_end_ns) return n;
  return -1;
}

std::vector<RankProfile> read_profiles(const json& doc, const std::string& what) {
  std::vector<std::vector<RawEvent>> procs = processes(doc, what);
  const json info = doc.is_object() && doc.contains("distributedInfo") && doc["distributedInfo"].is_object()
                        ? doc["distributedInfo"]
                        : json::object();
  std::vector<RankProfile> out;
  for (size_t i = 0; i < procs.size(); ++i) {
    RankProfile p = read_process(procs[i], what);
    p.backend     = string_field(info, "backend");
    if (procs.size() > 1) {
      p.rank       = static_cast<int>(i);
      p.world_size = static_cast<int>(procs.size());
    } else {
      const TorchRankInfo r = torch_rank_info(doc);
      p.rank                = r.rank;
      p.world_size          = r.world_size;
    }
    out.push_back(std::move(p));
  }
  return out;
}

}  // namespace paraxis::trace::torch
