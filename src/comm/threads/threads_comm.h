// The threads backend's communicator: one per device and group. Collectives run on the calling device thread;
// async collectives run in order on a per-communicator worker thread (blocking collectives first wait for the
// queued ones, so every member executes this communicator's collectives in sequence order).
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "comm/threads/group.h"

namespace paraxis::comm_detail {

class ThreadsCommunicator : public Communicator {
 public:
  ThreadsCommunicator(std::shared_ptr<ThreadGroup> group, int rank);
  ~ThreadsCommunicator() override;

  const char* backend() const override { return "threads"; }
  bool aborted() const override { return group_->domain().aborted(); }
  std::string abort_reason() const override { return group_->domain().abort_reason(); }
  ThreadGroup& group() const { return *group_; }
  int device() const { return group_->device_of(rank()); }

 protected:
  void run(const CommCall& c) override;
  Work run_async(const CommCall& c, RingRef ref) override;
  std::unique_ptr<Communicator> run_split(const CommCall& c) override;

 private:
  void all_reduce(const CommCall& c);
  void reduce_scatter(const CommCall& c);
  void all_gather(const CommCall& c);
  void broadcast(const CommCall& c);
  void all_to_all(const CommCall& c);
  void point_to_point(const CommCall& c);

  void enqueue(std::function<void()> task);
  void drain();  // wait until every queued async collective has run
  void worker_loop();

  std::shared_ptr<ThreadGroup> group_;
  std::vector<float> scratch_;  // small all-reduce result

  std::mutex queue_mutex_;
  std::condition_variable queue_cv_;
  std::deque<std::function<void()>> queue_;
  bool busy_ = false, stop_ = false;
  std::thread worker_;
};

}  // namespace paraxis::comm_detail
