// Merging the traces of an MPI job (merge.h): the flat float encoding, the clock-offset estimate and the
// gather to rank 0.
#include "paraxis/trace/merge.h"

#include <algorithm>
#include <cmath>

#include "paraxis/comm/communicator.h"
#include "paraxis/core/error.h"

namespace paraxis::trace {
namespace {

// NOTE [trace encoding]: a buffer is a sequence of 64-bit words, each written as 4 floats holding 16 bits
// (exact integers 0..65535), least significant first. Header words: magic, version, device, dp, tp, pp,
// dropped, steps, events; then 2 words per step (begin, end) and kEventWords per event.
constexpr int kWordFloats      = 4;
constexpr int64_t kMagic       = 0x50585452;  // "PXTR"
constexpr int64_t kVersion     = 2;           // 2: events carry their step action
constexpr int64_t kHeaderWords = 9;
constexpr int64_t kStepWords   = 2;
constexpr int64_t kEventWords  = 7;

void encode_word(int64_t v, float* out) {
  const auto u = static_cast<uint64_t>(v);
  for (int k = 0; k < kWordFloats; ++k) out[k] = static_cast<float>((u >> (16 * k)) & 0xffffu);
}

int64_t decode_word(const float* in) {
  uint64_t u = 0;
  for (int k = 0; k < kWordFloats; ++k) {
    const float f = in[k];
    PX_CHECK(f >= 0 && f <= 65535 && f == std::floor(f),
             "trace buffer: {} is not a 16-bit chunk; the buffer is not a packed trace", f);
    u |= static_cast<uint64_t>(f) << (16 * k);
  }
  return static_cast<int64_t>(u);
}

class Packer {
 public:
  explicit Packer(size_t words) { out_.reserve(words * kWordFloats); }
  void put(int64_t v) {
    out_.resize(out_.size() + kWordFloats);
    encode_word(v, out_.data() + out_.size() - kWordFloats);
  }
  std::vector<float> take() { return std::move(out_); }

 private:
  std::vector<float> out_;
};

class Unpacker {
 public:
  explicit Unpacker(std::span<const float> buf) : buf_(buf) {
    PX_CHECK(buf.size() % kWordFloats == 0, "trace buffer: {} floats is not a whole number of words",
             buf.size());
  }
  int64_t get() {
    PX_CHECK(pos_ + kWordFloats <= buf_.size(), "trace buffer: ends after {} floats, mid-record",
             buf_.size());
    pos_ += kWordFloats;
    return decode_word(buf_.data() + pos_ - kWordFloats);
  }
  int64_t words_left() const { return static_cast<int64_t>((buf_.size() - pos_) / kWordFloats); }

 private:
  std::span<const float> buf_;
  size_t pos_ = 0;
};

int64_t join32(int32_t hi, int32_t lo) {
  return static_cast<int64_t>((static_cast<uint64_t>(static_cast<uint32_t>(hi)) << 32) |
                              static_cast<uint32_t>(lo));
}

void put_event(Packer& p, const Event& e) {
  p.put(e.t_begin_ns);
  p.put(e.t_end_ns);
  p.put(e.bytes);
  p.put(e.flow_id);
  p.put(join32(e.seq, e.microbatch));
  const uint64_t small = (static_cast<uint64_t>(static_cast<uint16_t>(e.stage)) << 48) |
                         (static_cast<uint64_t>(static_cast<uint16_t>(e.peer)) << 32) |
                         (static_cast<uint64_t>(e.kind) << 8) | static_cast<uint64_t>(e.track);
  p.put(static_cast<int64_t>(small));
  p.put(e.action);
}

Event get_event(Unpacker& u) {
  Event e;
  e.t_begin_ns     = u.get();
  e.t_end_ns       = u.get();
  e.bytes          = u.get();
  e.flow_id        = u.get();
  const auto pair  = static_cast<uint64_t>(u.get());
  e.seq            = static_cast<int32_t>(static_cast<uint32_t>(pair >> 32));
  e.microbatch     = static_cast<int32_t>(static_cast<uint32_t>(pair));
  const auto small = static_cast<uint64_t>(u.get());
  e.stage          = static_cast<int16_t>(static_cast<uint16_t>(small >> 48));
  e.peer           = static_cast<int16_t>(static_cast<uint16_t>(small >> 32));
  const auto kind = static_cast<uint8_t>(small >> 8), track = static_cast<uint8_t>(small);
  PX_CHECK(kind < kNumKinds && track <= 1 && ((small >> 16) & 0xffffu) == 0,
           "trace buffer: event kind {} / track {} out of range", kind, track);
  e.kind   = static_cast<Kind>(kind);
  e.track  = static_cast<Track>(track);
  e.action = static_cast<int32_t>(u.get());
  return e;
}

// ---- the gather's messages ----

void send_word(Communicator& world, int64_t v, int peer, int tag) {
  float buf[kWordFloats];
  encode_word(v, buf);
  world.send(buf, kWordFloats, peer, tag);
}

int64_t recv_word(Communicator& world, int peer, int tag) {
  float buf[kWordFloats];
  world.recv(buf, kWordFloats, peer, tag);
  return decode_word(buf);
}

// Rank 0's side of one round with `peer`: the remote clock is read between our send and our receive.
ClockSample ping(Communicator& world, int peer, const GatherOptions& opt) {
  const float hello = 0;
  ClockSample s;
  s.t_send_ns = opt.clock();
  world.send(&hello, 1, peer, opt.tag);
  s.t_remote_ns = recv_word(world, peer, opt.tag);
  s.t_recv_ns   = opt.clock();
  return s;
}

void pong(Communicator& world, const GatherOptions& opt) {
  float hello = 0;
  world.recv(&hello, 1, 0, opt.tag);
  send_word(world, opt.clock(), 0, opt.tag);
}

// A rank's trace: its length (floats) as one word, then the buffer.
void send_rank(Communicator& world, const RankTrace& mine, const GatherOptions& opt) {
  const std::vector<float> buf = pack_rank_trace(mine);
  send_word(world, static_cast<int64_t>(buf.size()), 0, opt.tag);
  world.send(buf.data(), static_cast<int64_t>(buf.size()), 0, opt.tag);
}

RankTrace recv_rank(Communicator& world, int peer, const GatherOptions& opt) {
  const int64_t n = recv_word(world, peer, opt.tag);
  PX_CHECK(n >= kHeaderWords * kWordFloats && n % kWordFloats == 0 && n < (int64_t{1} << 31),
           "trace gather: rank {} announced a trace of {} floats; not a packed trace", peer, n);
  std::vector<float> buf(static_cast<size_t>(n));
  world.recv(buf.data(), n, peer, opt.tag);
  return unpack_rank_trace(buf);
}

}  // namespace

RankTrace local_trace(const Recorder& rec, const DeviceInfo& info) {
  RankTrace t;
  t.info = info;
  t.events.assign(rec.events().begin(), rec.events().end());
  for (auto [b, e] : rec.steps())
    if (e >= b) t.steps.push_back({b, e});
  t.dropped = static_cast<int64_t>(rec.dropped());
  return t;
}

std::vector<float> pack_rank_trace(const RankTrace& t) {
  const auto steps = static_cast<int64_t>(t.steps.size()), events = static_cast<int64_t>(t.events.size());
  Packer p(kHeaderWords + kStepWords * steps + kEventWords * events);
  for (int64_t v : {kMagic, kVersion, int64_t{t.info.device}, int64_t{t.info.dp}, int64_t{t.info.tp},
                    int64_t{t.info.pp}, t.dropped, steps, events})
    p.put(v);
  for (const Step& s : t.steps) {
    p.put(s.t_begin_ns);
    p.put(s.t_end_ns);
  }
  for (const Event& e : t.events) put_event(p, e);
  return p.take();
}

RankTrace unpack_rank_trace(std::span<const float> buf) {
  Unpacker u(buf);
  const int64_t magic = u.get(), version = u.get();
  PX_CHECK(magic == kMagic && version == kVersion,
           "trace buffer: header {:#x} version {} is not a packed trace of version {}", magic, version,
           kVersion);
  RankTrace t;
  t.info.device        = static_cast<int>(u.get());
  t.info.dp            = static_cast<int>(u.get());
  t.info.tp            = static_cast<int>(u.get());
  t.info.pp            = static_cast<int>(u.get());
  t.dropped            = u.get();
  const int64_t steps  = u.get();
  const int64_t events = u.get();
  PX_CHECK(steps >= 0 && events >= 0 && u.words_left() == kStepWords * steps + kEventWords * events,
           "trace buffer: header says {} steps and {} events but {} words follow", steps, events,
           u.words_left());
  for (int64_t i = 0; i < steps; ++i) {
    Step s;
    s.t_begin_ns = u.get();
    s.t_end_ns   = u.get();
    t.steps.push_back(s);
  }
  t.events.reserve(static_cast<size_t>(events));
  for (int64_t i = 0; i < events; ++i) t.events.push_back(get_event(u));
  return t;
}

ClockSync estimate_offset(std::span<const ClockSample> samples) {
  PX_CHECK(!samples.empty(), "estimate_offset needs at least one ping-pong sample");
  const ClockSample* best = nullptr;
  for (const ClockSample& s : samples) {
    PX_CHECK(s.t_recv_ns >= s.t_send_ns,
             "clock sample: the pong came back ({} ns) before the ping left ({} ns)", s.t_recv_ns,
             s.t_send_ns);
    if (!best || s.t_recv_ns - s.t_send_ns < best->t_recv_ns - best->t_send_ns) best = &s;
  }
  const int64_t rtt = best->t_recv_ns - best->t_send_ns;
  ClockSync c;
  c.offset_ns      = best->t_remote_ns - (best->t_send_ns + rtt / 2);
  c.uncertainty_ns = (rtt + 1) / 2;  // the remote read lies within the round trip: |error| ≤ ⌈rtt/2⌉
  return c;
}

TraceSet merge_rank_traces(std::vector<RankTrace> ranks, std::span<const ClockSync> clocks,
                           std::string layout) {
  PX_CHECK(clocks.size() == ranks.size(), "merge_rank_traces: {} clock offsets for {} ranks", clocks.size(),
           ranks.size());
  TraceSet set;
  set.layout = std::move(layout);
  for (size_t i = 0; i < ranks.size(); ++i) {
    RankTrace& r        = ranks[i];
    const int64_t shift = clocks[i].offset_ns;
    for (Event& e : r.events) e.t_begin_ns -= shift, e.t_end_ns -= shift;
    if (set.steps.empty())
      for (const Step& s : r.steps) set.steps.push_back({s.t_begin_ns - shift, s.t_end_ns - shift});
    set.devices.push_back(r.info);
    set.events.push_back(std::move(r.events));
    set.dropped_events += r.dropped;
  }
  set.clocks.assign(clocks.begin(), clocks.end());
  return set;
}

std::optional<TraceSet> gather_trace(Communicator& world, const RankTrace& mine, std::string layout,
                                     const GatherOptions& opt) {
  PX_CHECK(opt.rounds >= 1 && opt.clock != nullptr, "gather_trace: {} rounds; give at least 1 and a clock",
           opt.rounds);
  if (world.rank() != 0) {
    for (int k = 0; k < opt.rounds; ++k) pong(world, opt);
    send_rank(world, mine, opt);
    return std::nullopt;
  }
  std::vector<RankTrace> ranks{mine};
  std::vector<ClockSync> clocks{ClockSync{mine.info.device, 0, 0}};
  for (int r = 1; r < world.size(); ++r) {
    std::vector<ClockSample> samples;
    for (int k = 0; k < opt.rounds; ++k) samples.push_back(ping(world, r, opt));
    ClockSync c = estimate_offset(samples);
    ranks.push_back(recv_rank(world, r, opt));
    c.device = ranks.back().info.device;
    clocks.push_back(c);
  }
  return merge_rank_traces(std::move(ranks), clocks, std::move(layout));
}

int64_t max_clock_uncertainty_ns(const TraceSet& set) {
  int64_t worst = 0;
  for (const ClockSync& c : set.clocks) worst = std::max(worst, c.uncertainty_ns);
  return worst;
}

}  // namespace paraxis::trace
