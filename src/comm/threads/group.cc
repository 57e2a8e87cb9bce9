#include "comm/threads/group.h"

#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "comm/threads/threads_comm.h"
#include "paraxis/core/error.h"

namespace paraxis::comm_detail {

// ---- ThreadDomain ----

ThreadDomain::ThreadDomain(int devices, double timeout_s, int spin_iterations)
    : devices_(devices),
      timeout_s_(timeout_s),
      spin_(spin_iterations),
      returned_(new std::atomic<bool>[devices]) {
  for (int d = 0; d < devices; ++d) returned_[d].store(false);
  if (timeout_s_ > 0) watchdog_ = std::thread([this] { watchdog_loop(); });
}

ThreadDomain::~ThreadDomain() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  watchdog_cv_.notify_all();
  if (watchdog_.joinable()) watchdog_.join();
}

void ThreadDomain::abort(int device, const std::string& message) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (aborted_.load()) return;
    root_device_  = device;
    root_message_ = message;
    aborted_.store(true);
  }
  wake_all();
}

int ThreadDomain::root_device() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return root_device_;
}

std::string ThreadDomain::root_message() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return root_message_;
}

std::string ThreadDomain::abort_reason() const {
  std::lock_guard<std::mutex> lock(mutex_);
  if (root_device_ >= 0)
    return fmt::format("aborted because device {} failed: {}", root_device_, root_message_);
  return fmt::format("aborted: {}", root_message_);
}

void ThreadDomain::throw_aborted() const {
  PX_FAIL("{}", abort_reason());
}

void ThreadDomain::mark_returned(int device) {
  returned_[device].store(true);
  wake_all();
}

void ThreadDomain::wake_all() {
  std::lock_guard<std::mutex> lock(mutex_);
  for (ThreadGroup* g : groups_) g->wake();
}

void ThreadDomain::add(ThreadGroup* g) {
  std::lock_guard<std::mutex> lock(mutex_);
  groups_.push_back(g);
}
void ThreadDomain::remove(ThreadGroup* g) {
  std::lock_guard<std::mutex> lock(mutex_);
  groups_.erase(std::find(groups_.begin(), groups_.end(), g));
}
void ThreadDomain::add(ThreadsCommunicator* c) {
  std::lock_guard<std::mutex> lock(mutex_);
  comms_.push_back(c);
  c->group().set_member(c->rank(), c);
}
void ThreadDomain::remove(ThreadsCommunicator* c) {
  std::lock_guard<std::mutex> lock(mutex_);
  comms_.erase(std::find(comms_.begin(), comms_.end(), c));
  c->group().set_member(c->rank(), nullptr);
}

std::string ThreadDomain::describe_stuck(const ThreadsCommunicator& c, const OpRecord& r) const {
  const ThreadGroup& g = c.group();
  std::string head =
      fmt::format("comm watchdog: device {} has waited more than {} s (--comm-timeout) in {} on {}",
                  c.device(), timeout_s_, describe_call(r.call), g.name());
  if (!comm_op_is_collective(r.call.op)) {
    const int peer_device           = g.device_of(r.call.peer);
    const ThreadsCommunicator* peer = g.member(r.call.peer);
    return head + fmt::format("; the matching {} on device {} was not posted. Device {}'s recent calls:{}",
                              r.call.op == CommOp::kSend ? "recv" : "send", peer_device, peer_device,
                              peer ? peer->describe_recent() : std::string("\n    (gone)"));
  }
  std::vector<int> arrived, missing;
  std::string missing_detail;
  for (int m = 0; m < g.size(); ++m) {
    const ThreadsCommunicator* member = g.member(m);
    if (member && member->next_seq() > r.call.seq) {
      arrived.push_back(g.device_of(m));
    } else {
      missing.push_back(g.device_of(m));
      missing_detail += fmt::format("\n  device {}'s recent calls:{}", g.device_of(m),
                                    member ? member->describe_recent() : std::string("\n    (gone)"));
    }
  }
  return head + fmt::format(
                    ". Arrived: devices {}; not arrived: devices {}. Every member must call the "
                    "collectives of a communicator in the same order.{}",
                    fmt::join(arrived, ", "), fmt::join(missing, ", "), missing_detail);
}

void ThreadDomain::watchdog_loop() {
  using namespace std::chrono;
  const auto limit = duration_cast<steady_clock::duration>(duration<double>(timeout_s_));
  const auto poll  = std::clamp(duration_cast<milliseconds>(limit / 4), milliseconds(5), milliseconds(1000));
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stop_) {
    watchdog_cv_.wait_for(lock, poll, [&] { return stop_; });
    if (stop_ || aborted_.load()) continue;
    std::string message;
    for (ThreadsCommunicator* c : comms_) {
      OpRecord r;
      if (c->stuck_op(limit, &r)) {
        message = describe_stuck(*c, r);
        break;
      }
    }
    if (message.empty()) continue;
    lock.unlock();
    fmt::print(stderr, "paraxis: {}\n", message);
    abort(-1, message);
    lock.lock();
  }
}

// ---- ThreadGroup ----

ThreadGroup::ThreadGroup(ThreadDomain& domain, std::vector<int> devices, std::string name)
    : domain_(domain),
      devices_(std::move(devices)),
      name_(std::move(name)),
      posts_(2 * devices_.size()),
      members_(devices_.size(), nullptr) {
  domain_.add(this);
}

ThreadGroup::~ThreadGroup() {
  domain_.remove(this);
}

void ThreadGroup::set_member(int rank, ThreadsCommunicator* c) {
  members_[rank] = c;
}

void ThreadGroup::wake() {
  // Bump the interruption byte (never carrying into the generation) so blocked waiters return and re-check.
  uint32_t w = word_.load();
  while (!word_.compare_exchange_weak(w, (w & ~0xFFu) | ((w + 1) & 0xFFu))) {
  }
  word_.notify_all();
  std::lock_guard<std::mutex> lock(p2p_mutex_);
  p2p_cv_.notify_all();
}

void ThreadGroup::check_alive(const CommCall& call, int rank, int peer) {
  if (domain_.aborted()) domain_.throw_aborted();
  for (int m = 0; m < size(); ++m) {
    if (m == rank || (peer >= 0 && m != peer)) continue;
    if (domain_.returned(devices_[m]))
      PX_FAIL(
          "device {} returned while device {} waits for it in {} on {}; every member must make the same "
          "calls",
          devices_[m], devices_[rank], describe_call(call), name_);
  }
}

void ThreadGroup::barrier(int rank, const CommCall& call) {
  const uint32_t generation = word_.load() >> 8;
  if (arrived_.fetch_add(1) + 1 == size()) {
    arrived_.store(0);
    word_.fetch_add(1u << 8);
    word_.notify_all();
    return;
  }
  // Spin briefly (cheap when every device has its own core), then sleep on the word.
  for (int i = 0; i < domain_.spin_iterations(); ++i) {
    if ((word_.load(std::memory_order_acquire) >> 8) != generation) return;
    _mm_pause();
  }
  for (;;) {
    uint32_t w = word_.load();
    if ((w >> 8) != generation) return;
    try {
      check_alive(call, rank, -1);
    } catch (...) {
      // A returned member may have passed this barrier just before returning: look once more.
      if (!domain_.aborted() && (word_.load() >> 8) != generation) return;
      throw;
    }
    word_.wait(w);
  }
}

void ThreadGroup::arrive(int rank, const CommCall& call) {
  posts_[(call.seq & 1) * size() + rank].call = call;
  barrier(rank, call);
  const CommCall& first = posted(0, call.seq);
  bool same             = true;
  for (int m = 1; m < size() && same; ++m) {
    const CommCall& c = posted(m, call.seq);
    same = c.op == first.op && c.count == first.count && c.reduce == first.reduce && c.peer == first.peer &&
           c.seq == first.seq;
  }
  if (same) return;
  std::string calls;
  for (int m = 0; m < size(); ++m)
    calls += fmt::format("\n  device {} called {}", devices_[m], describe_call(posted(m, call.seq)));
  PX_FAIL(
      "collective mismatch on {}: members called different collectives at the same point:{}\nEvery member "
      "must call the same collectives, with the same counts, in the same order.",
      name_, calls);
}

void ThreadGroup::copy_matched(P2pRequest& send, P2pRequest& recv) {
  if (send.count != recv.count) {
    send.error = recv.error = fmt::format(
        "send of {} floats from rank {} does not match recv of {} floats at rank {} (tag {}); both sides "
        "must "
        "pass the same count",
        send.count, send.src, recv.count, recv.dst, send.tag);
    return;
  }
  if (send.count > 0) std::memcpy(recv.recv_data, send.send_data, send.count * sizeof(float));
}

void ThreadGroup::post_p2p(const std::shared_ptr<P2pRequest>& req, bool is_send, const CommCall& call) {
  std::unique_lock<std::mutex> lock(p2p_mutex_);
  if (domain_.aborted()) {
    lock.unlock();
    domain_.throw_aborted();
  }
  auto& others = is_send ? recvs_ : sends_;
  auto match   = std::find_if(others.begin(), others.end(), [&](const std::shared_ptr<P2pRequest>& o) {
    return o->src == req->src && o->dst == req->dst && o->tag == req->tag;
  });
  if (match == others.end()) {
    (is_send ? sends_ : recvs_).push_back(req);
    return;
  }
  std::shared_ptr<P2pRequest> other = *match;
  others.erase(match);
  lock.unlock();
  // Copy outside the lock: the waiting side's buffer stays valid until it sees `finished`.
  if (is_send) {
    copy_matched(*req, *other);
  } else {
    copy_matched(*other, *req);
  }
  lock.lock();
  req->finished = other->finished = true;
  p2p_cv_.notify_all();
}

bool ThreadGroup::p2p_finished(const P2pRequest& req) {
  std::lock_guard<std::mutex> lock(p2p_mutex_);
  return req.finished;
}

void ThreadGroup::wait_p2p(const P2pRequest& req, const CommCall& call) {
  const int rank = call.op == CommOp::kSend ? req.src : req.dst;
  std::unique_lock<std::mutex> lock(p2p_mutex_);
  while (!req.finished) {
    if (domain_.aborted() || domain_.returned(devices_[call.peer])) {
      lock.unlock();
      check_alive(call, rank, call.peer);
      lock.lock();
      if (req.finished) break;
    }
    p2p_cv_.wait(lock);
  }
  if (!req.error.empty()) PX_FAIL("{} on {}: {}", describe_call(call), name_, req.error);
}

}  // namespace paraxis::comm_detail
