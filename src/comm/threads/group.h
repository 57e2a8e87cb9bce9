// Shared state of the threads backend.
//
// ThreadDomain: everything started by one run_devices call — the abort flag and its root cause, which devices
// have returned, the registry of groups and communicators, and the watchdog thread.
// ThreadGroup: the members of one communicator (world or a split) — a barrier that spins briefly then blocks,
// one posted call per member (peers read each other's buffers directly after the barrier), and the mailboxes
// of point-to-point messages.
//
// No wait here can outlive a failure: every wait re-checks the domain's abort flag and whether a member it
// waits for has returned, and abort()/mark_returned() wake every waiter of every group.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "paraxis/comm/communicator.h"

namespace paraxis::comm_detail {

class ThreadGroup;
class ThreadsCommunicator;

class ThreadDomain {
 public:
  ThreadDomain(int devices, double timeout_s, int spin_iterations);
  ~ThreadDomain();

  int devices() const { return devices_; }
  int spin_iterations() const { return spin_; }

  bool aborted() const { return aborted_.load(); }
  // The first abort wins and is the root cause; device -1 means the watchdog.
  void abort(int device, const std::string& message);
  [[noreturn]] void throw_aborted() const;
  std::string abort_reason() const;  // "aborted because device 1 failed: …" or "aborted: <watchdog finding>"
  int root_device() const;
  std::string root_message() const;

  void mark_returned(int device);
  bool returned(int device) const { return returned_[device].load(); }

  void add(ThreadGroup* g);
  void remove(ThreadGroup* g);
  void add(ThreadsCommunicator* c);
  void remove(ThreadsCommunicator* c);

 private:
  void wake_all();
  void watchdog_loop();
  std::string describe_stuck(const ThreadsCommunicator& c, const OpRecord& r) const;

  int devices_;
  double timeout_s_;
  int spin_;
  std::atomic<bool> aborted_{false};
  std::unique_ptr<std::atomic<bool>[]> returned_;

  mutable std::mutex mutex_;  // guards everything below
  int root_device_ = -1;
  std::string root_message_;
  std::vector<ThreadGroup*> groups_;
  std::vector<ThreadsCommunicator*> comms_;

  std::condition_variable watchdog_cv_;
  bool stop_ = false;
  std::thread watchdog_;
};

// A point-to-point request: a posted send or receive, matched by (source, destination, tag) in posting order
// (MPI's non-overtaking rule). Whichever side arrives second copies the data.
struct P2pRequest {
  const float* send_data = nullptr;
  float* recv_data       = nullptr;
  int64_t count          = 0;
  int src = 0, dst = 0, tag = 0;
  bool finished = false;  // guarded by the group's p2p mutex
  std::string error;      // set with finished on a count mismatch
};

class ThreadGroup {
 public:
  ThreadGroup(ThreadDomain& domain, std::vector<int> devices, std::string name);
  ~ThreadGroup();

  ThreadDomain& domain() { return domain_; }
  int size() const { return static_cast<int>(devices_.size()); }
  int device_of(int rank) const { return devices_[rank]; }
  const std::string& name() const { return name_; }

  // Barrier over all members; `call` names what the caller waits in, for errors.
  void barrier(int rank, const CommCall& call);
  // Posts this member's call, waits for all, and checks that every member called the same collective.
  void arrive(int rank, const CommCall& call);
  // Valid between arrive and the next barrier of the same call. Posts alternate between two banks by sequence
  // number: a member that finished call k may post call k+1 while others still read the posts of call k.
  const CommCall& posted(int rank, uint64_t seq) const {
    return posts_[(seq & 1) * devices_.size() + rank].call;
  }

  // split: filled by rank 0 between arrive and the closing barrier.
  std::vector<std::shared_ptr<ThreadGroup>> split_groups;  // per member (null when color < 0)
  std::vector<int> split_ranks;

  void post_p2p(const std::shared_ptr<P2pRequest>& req, bool is_send, const CommCall& call);
  void wait_p2p(const P2pRequest& req, const CommCall& call);
  bool p2p_finished(const P2pRequest& req);

  // The communicator of each member, for the watchdog; both only under the domain's mutex.
  void set_member(int rank, ThreadsCommunicator* c);
  const ThreadsCommunicator* member(int rank) const { return members_[rank]; }

  void wake();  // after abort or a member returned

 private:
  // Throws when the wait can never end: the domain aborted or a member this wait needs has returned.
  void check_alive(const CommCall& call, int rank, int peer);
  static void copy_matched(P2pRequest& send, P2pRequest& recv);

  ThreadDomain& domain_;
  std::vector<int> devices_;  // global device of each member rank
  std::string name_;

  // Barrier word: generation in bits 8.., an interruption counter in bits 0..7 (bumped to wake waiters).
  alignas(64) std::atomic<uint32_t> word_{0};
  alignas(64) std::atomic<int> arrived_{0};

  struct alignas(64) Post {
    CommCall call;
  };
  std::vector<Post> posts_;
  std::vector<ThreadsCommunicator*> members_;

  std::mutex p2p_mutex_;
  std::condition_variable p2p_cv_;
  std::deque<std::shared_ptr<P2pRequest>> sends_, recvs_;  // unmatched
};

}  // namespace paraxis::comm_detail
