// paraxis/trace/recorder.h — per-device event recorder: begin/end of every action and communication.
//
//   trace::Recorder rec(/*device=*/1);                    // one per device; the buffer is allocated here,
//   once
//   {
//     auto s = rec.scope(trace::Kind::kForward, /*stage=*/1, /*microbatch=*/0);   // compute track
//     model.forward(...);
//   }                                                    // the event is written when the scope ends
//   {
//     auto s = rec.scope(trace::Kind::kSend, 1, 0);
//     s.event().peer = 2; s.event().bytes = n; s.event().seq = send_seq[2]++;     // the RECV on device 2
//     comm.send(...);                                                             // carries peer 1, same seq
//   }
//   trace::TraceSet set = trace::collect({&rec0, &rec1}, grid_coords, "placement");
//   trace::write_chrome_trace(set, "run.json");                                   // see chrome_trace.h
//
// Recording is two steady_clock reads and one 48-byte store into a preallocated buffer (bench/bench_trace.cc
// measures it); when the buffer is full events are counted in dropped() and never reallocated on the hot
// path. A Recorder is written by one thread (its device); read it after the device has stopped.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace paraxis::trace {

// What an event was. The letters F, B, I, W follow the schedule's action text form (docs/architecture.md
// §IR).
enum class Kind : uint8_t {
  kForward,         // F
  kBackward,        // B  (full backward = I then W)
  kBackwardInput,   // I
  kBackwardWeight,  // W
  kOptStep,         // OPT
  kSend,            // SEND    (point-to-point; matched to a RECV, see match_flows)
  kRecv,            // RECV
  kAllReduce,       // ALLREDUCE
  kReduceScatter,   // REDUCE_SCATTER
  kAllGather,       // ALLGATHER
  kBroadcast,       // BROADCAST
  kAllToAll,        // ALLTOALL
  kBarrier,         // BARRIER
  kWait,            // WAIT    (blocked on a peer that has not arrived; counted as waiting, not communicating)
  kOther,           // OTHER   (loss, data loading, anything else)
  kHalo,            // HALO    (domain parallelism: a halo exchange inside a pass, sp group)
  kLayout,          // LAYOUT  (domain parallelism: a layout change, spatial -> batch or whole, inside a pass)
};
inline constexpr int kNumKinds = 17;

// Compute and communication run on separate threads of the Chrome trace.
enum class Track : uint8_t { kCompute = 0, kComm = 1 };

std::string_view kind_name(Kind k);  // "F", "SEND", "ALLREDUCE", ...
std::optional<Kind> kind_from_name(std::string_view name);
Track default_track(Kind k);  // compute for F/B/I/W/OPT/OTHER, comm for the rest
bool is_compute(Kind k);      // F, B, I, W, OPT, OTHER
bool is_collective(Kind k);   // ALLREDUCE ... BARRIER

struct Event {
  int64_t t_begin_ns = 0;  // steady_clock, nanoseconds
  int64_t t_end_ns   = 0;
  int64_t bytes      = 0;   // payload of a communication (0 for compute)
  int64_t flow_id    = -1;  // optional: a SEND and its RECV (or the members of one collective) share it
  int32_t seq        = -1;  // per (sender, receiver) message number for SEND/RECV; per-group call number
  int32_t microbatch = -1;
  int16_t stage      = -1;
  int16_t peer       = -1;  // the other device of a SEND/RECV
  int32_t action     = -1;  // the index of the step's action it belongs to in the device's list (-1: none)
  Kind kind          = Kind::kOther;
  Track track        = Track::kCompute;
  int64_t duration_ns() const { return t_end_ns - t_begin_ns; }
};

inline int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

class Recorder;

// Records one event from construction to destruction. Fill in extra fields through event().
class Scope {
 public:
  Scope(Recorder* rec, Kind kind, int stage, int microbatch);
  ~Scope() { finish(); }
  Scope(const Scope&)            = delete;
  Scope& operator=(const Scope&) = delete;
  Scope(Scope&& o) noexcept : rec_(o.rec_), ev_(o.ev_) { o.rec_ = nullptr; }
  Event& event() { return ev_; }
  void finish();  // records now instead of at destruction (idempotent)

 private:
  Recorder* rec_;
  Event ev_;
};

class Recorder {
 public:
  static constexpr size_t kDefaultCapacity = 1 << 16;  // 64 Ki events = 3 MiB per device

  explicit Recorder(int device, size_t capacity = kDefaultCapacity);

  int device() const { return device_; }
  size_t capacity() const { return capacity_; }
  size_t size() const { return size_; }
  size_t dropped() const { return dropped_; }  // events that did not fit
  std::span<const Event> events() const { return {buffer_.data(), size_}; }
  void clear() { size_ = dropped_ = 0; }

  void record(const Event& e) {
    if (size_ < capacity_) [[likely]]
      buffer_[size_++] = e;
    else
      ++dropped_;
  }
  // One event with explicit times (for events whose begin was taken earlier, e.g. async communication).
  void record(Kind kind, int stage, int microbatch, int64_t t_begin_ns, int64_t t_end_ns);
  Scope scope(Kind kind, int stage = -1, int microbatch = -1) { return Scope(this, kind, stage, microbatch); }

  // Step boundaries (the analysis window); call at the start and the end of every training step.
  void step_begin() { step_marks_.push_back({now_ns(), -1}); }
  void step_end() {
    if (!step_marks_.empty()) step_marks_.back().second = now_ns();
  }
  const std::vector<std::pair<int64_t, int64_t>>& steps() const { return step_marks_; }

 private:
  int device_;
  size_t capacity_;
  size_t size_    = 0;
  size_t dropped_ = 0;
  std::vector<Event> buffer_;
  std::vector<std::pair<int64_t, int64_t>> step_marks_;
};

inline Scope::Scope(Recorder* rec, Kind kind, int stage, int microbatch) : rec_(rec) {
  ev_.kind       = kind;
  ev_.track      = default_track(kind);
  ev_.stage      = static_cast<int16_t>(stage);
  ev_.microbatch = microbatch;
  if (rec_) ev_.t_begin_ns = now_ns();
}
inline void Scope::finish() {
  if (!rec_) return;
  ev_.t_end_ns = now_ns();
  rec_->record(ev_);
  rec_ = nullptr;
}

// Where a device sits on the grid (docs/architecture.md: tp varies fastest).
struct DeviceInfo {
  int device = 0;
  int dp = 0, tp = 0, pp = 0;
  int sp = -1;                // the spatial (domain-parallel) coordinate; -1: the layout has no sp axis
  std::string label() const;  // "device 1 (dp0 tp0 pp1)", "device 1 (dp0 tp0 pp0 sp1)"
};

struct Step {
  int64_t t_begin_ns = 0, t_end_ns = 0;
};

// Per-layer cost for the work–depth view (optional in a trace; see analysis.h).
struct LayerWork {
  std::string name;
  double work = 0;  // flops (or any consistent unit) of forward + backward for one mini-batch
};

// How a device's clock was aligned to device 0's in a trace merged from several processes (merge.h).
struct ClockSync {
  int device             = 0;
  int64_t offset_ns      = 0;  // the device's clock minus device 0's; its times were shifted by −offset
  int64_t uncertainty_ns = 0;  // half the round trip of the best ping-pong: |error of offset| ≤ this
};

// The layout a trace was recorded under, structured (the label in TraceSet::layout is for people): the grid,
// micro-batches m, virtual stages v, the schedule ("1f1b", "gpipe", ...) and whether it is workload
// partitioning (placement: pp > 1, m = 1). known: the fields were set (by the runtime, the cost model, the
// trace's metadata or parsed from the label).
struct LayoutInfo {
  int dp = 1, tp = 1, pp = 1;
  int sp = 1;  // domain parallelism (docs/domain-parallelism.md)
  int m = 1, v = 1;
  std::string schedule;
  bool placement = false;
  bool known     = false;
};
// What was trained, so that other layouts of the same run can be priced (`paraxis analyze` prints a
// recommendation's predicted effect from it): the model as JSON text (nn/model_spec_json.h), the global
// batch and the optimizer. An empty model: unknown (older traces, other frameworks' traces).
struct RunInfo {
  std::string model_json;
  int64_t batch = 0;
  std::string optimizer;
};

// The layout a label names: "dp1 x tp1 x pp2, 1f1b m8", "dp1 tp1 pp2 1f1b m8 (predicted)", "placement on 2
// devices (pp2, m1)", "1f1b pp=4 m=8", "tp=2". known is false when the label names none of them.
LayoutInfo parse_layout_label(std::string_view label);

// Everything one run recorded: events per device plus what the analysis needs to read them.
struct TraceSet {
  std::string layout;                        // "placement", "1f1b pp=4 m=8", "tp=2", ...
  LayoutInfo layout_info;                    // the same, structured (known = false: parse the label)
  RunInfo run;                               // the model and batch it trained (empty: unknown)
  std::string source = "measured";           // "measured" (runtime) or "simulated" (cost model)
  std::vector<DeviceInfo> devices;           // devices[i] describes events[i]
  std::vector<std::vector<Event>> events;    // per device, any order
  std::vector<Step> steps;                   // step windows; empty: the whole span of the events
  std::optional<double> one_device_step_ns;  // the same step on one device, when known (for the speedup)
  std::vector<LayerWork> layers;             // optional per-layer work (for the work–depth view)
  int64_t dropped_events = 0;                // recorder overflow, summed over devices
  std::vector<ClockSync> clocks;             // per device, when merged from processes; empty: one clock

  int num_devices() const { return static_cast<int>(events.size()); }
  // [first begin, last end] over all events (0, 0 when there are none).
  std::pair<int64_t, int64_t> span() const;
};

// A SEND matched to its RECV: events[src_device][src_index] -> events[dst_device][dst_index].
struct Flow {
  int src_device = 0, dst_device = 0;
  size_t src_index = 0, dst_index = 0;
};
struct FlowMatch {
  std::vector<Flow> flows;
  int unmatched_sends = 0, unmatched_recvs = 0;
};
// A SEND on device a with peer b matches the RECV on device b with peer a that has the same flow_id (when
// both set one), else the same seq (when both set one), else the same position in begin-time order among
// a→b messages (messages between a pair arrive in order, as MPI guarantees for one tag).
FlowMatch match_flows(const TraceSet& set);

// Gathers the recorders of one run (index i of `coords` describes recorders[i]). Steps come from the
// recorder of device 0 (or the first that marked any).
TraceSet collect(std::span<Recorder* const> recorders, std::span<const DeviceInfo> coords,
                 std::string layout);

}  // namespace paraxis::trace
