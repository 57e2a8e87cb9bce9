#include "paraxis/train/interrupt.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>

namespace paraxis {

namespace {

// Lock-free, so async-signal-safe; exchange makes exactly one handler the first even when two signals land
// on two threads at once.
std::atomic<int> g_signal{0};
static_assert(std::atomic<int>::is_always_lock_free);
struct sigaction g_old_int {
}, g_old_term{};

void on_signal(int sig) {
  if (g_signal.exchange(sig) != 0) _exit(128 + sig);  // the second signal: leave now (async-signal-safe)
  static const char note[] =
      "\nparaxis: finishing the current step, then stopping (signal again to quit now)\n";
  ssize_t ignored = ::write(STDERR_FILENO, note, sizeof note - 1);
  (void)ignored;
}

}  // namespace

InterruptGuard::InterruptGuard() {
  g_signal.store(0);
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigaction(SIGINT, &sa, &g_old_int);
  sigaction(SIGTERM, &sa, &g_old_term);
}

InterruptGuard::~InterruptGuard() {
  sigaction(SIGINT, &g_old_int, nullptr);
  sigaction(SIGTERM, &g_old_term, nullptr);
}

int interrupt_signal() {
  return g_signal.load();
}

}  // namespace paraxis
