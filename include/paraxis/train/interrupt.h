// paraxis/train/interrupt.h — SIGINT / SIGTERM during training: finish the step, checkpoint, leave.
//
//   InterruptGuard guard;                  // installs the handlers; the destructor restores the old ones
//   ... if (interrupt_signal() != 0) ...   // the first signal only sets a flag the loop polls after a step
//   return 128 + interrupt_signal();       // 130 for SIGINT, 143 for SIGTERM
//
// A second signal ends the process at once (_exit(128 + signal)), for a user who does not want to wait.
#pragma once

namespace paraxis {

class InterruptGuard {
 public:
  InterruptGuard();
  ~InterruptGuard();
  InterruptGuard(const InterruptGuard&)            = delete;
  InterruptGuard& operator=(const InterruptGuard&) = delete;
};

// The first SIGINT or SIGTERM received while a guard was installed (0: none).
int interrupt_signal();

}  // namespace paraxis
