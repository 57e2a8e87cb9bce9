// A Work::State completed by another thread (a backend's worker): wait() blocks on a condition variable and
// rethrows the stored error.
#pragma once

#include <condition_variable>
#include <exception>
#include <mutex>

#include "paraxis/comm/communicator.h"

namespace paraxis::comm_detail {

class PromiseState : public Work::State {
 public:
  void complete(std::exception_ptr error) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      error_    = error;
      finished_ = true;
    }
    cv_.notify_all();
  }
  void wait() override {
    std::unique_lock<std::mutex> lock(mutex_);
    cv_.wait(lock, [&] { return finished_; });
    if (error_) std::rethrow_exception(error_);
  }
  bool test() override {
    std::lock_guard<std::mutex> lock(mutex_);
    return finished_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool finished_ = false;
  std::exception_ptr error_;
};

}  // namespace paraxis::comm_detail
