// bench_trace — what recording a trace costs: ns per event, and the share of a training-like step it takes,
// next to the project's budget (recording must cost < 2% of step time).
//
//   build/bench_trace            (about two seconds)
//
// The step: per device 16 forward and 16 backward actions, each a (64×512)·(512×512) product (a small MLP
// layer on one core), plus a send or receive around each — 64 events per step, the density of a 1F1B step
// with m = 16. The overhead is reported twice: events × cost per event ÷ step time (stable), and the measured
// difference between the median steps with and without a recorder (CPU time of the thread), next to its noise
// floor.
#include <fmt/format.h>

#include <algorithm>
#include <ctime>
#include <vector>

#include "paraxis/kernels/matmul.h"
#include "paraxis/trace/recorder.h"

using namespace paraxis;
using trace::Kind;

namespace {

// CPU time of this thread: the machine is shared, and wall time would count the time other processes ran.
double cpu_seconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

double ns_per_event(trace::Recorder& rec, int n) {
  rec.clear();
  const double t0 = cpu_seconds();
  for (int i = 0; i < n; ++i) {
    auto s = rec.scope(Kind::kForward, 1, i);
  }
  return (cpu_seconds() - t0) * 1e9 / n;
}

// One step of one device; rec == nullptr runs it untraced.
void step(trace::Recorder* rec, std::vector<float>& y, const std::vector<float>& x,
          const std::vector<float>& w) {
  for (int mb = 0; mb < 16; ++mb)
    for (Kind kind : {Kind::kForward, Kind::kBackward}) {
      {
        trace::Scope recv(rec, Kind::kRecv, 1, mb);
        recv.event().peer = 0;
      }
      {
        trace::Scope s(rec, kind, 1, mb);
        matmul(y.data(), x.data(), w.data(), 64, 512, 512);
      }
      {
        trace::Scope send(rec, Kind::kSend, 1, mb);
        send.event().peer = 2;
      }
    }
}

}  // namespace

int main() {
  set_kernel_threads(1);
  trace::Recorder rec(0, 1 << 20);
  const int n = 1 << 20;
  ns_per_event(rec, n);  // warm the buffer's pages
  std::vector<double> costs;
  for (int r = 0; r < 5; ++r) costs.push_back(ns_per_event(rec, n));
  std::sort(costs.begin(), costs.end());
  const double per_event = costs.front();  // the least disturbed run (the machine is shared)
  // Full buffer: the overflow path.
  double t0 = cpu_seconds();
  for (int i = 0; i < n; ++i) {
    auto s = rec.scope(Kind::kForward, 1, i);
  }
  const double per_dropped = (cpu_seconds() - t0) * 1e9 / n;

  std::vector<float> x(64 * 512, 0.5f), w(512 * 512, 0.25f), y(64 * 512);
  // Interleaved: untraced A, traced, untraced B. A against B is the noise floor of the measured difference.
  std::vector<double> plain, traced, plain_b;
  step(nullptr, y, x, w);
  auto timed = [&](trace::Recorder* r, std::vector<double>& into) {
    const double t = cpu_seconds();
    step(r, y, x, w);
    into.push_back(cpu_seconds() - t);
  };
  for (int r = 0; r < 25; ++r) {
    rec.clear();
    timed(nullptr, plain);
    timed(&rec, traced);
    timed(nullptr, plain_b);
  }
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  const double t_plain = median(plain), t_traced = median(traced), t_plain_b = median(plain_b);
  const double events   = static_cast<double>(rec.size());
  const double estimate = events * per_event * 1e-9 / t_plain;
  const double measured = (t_traced - t_plain) / t_plain;

  fmt::print("{:<44} {:>12} {:>12} {:>8}\n", "figure", "paraxis", "budget", "ratio");
  fmt::print("{:<44} {:>9.1f} ns {:>12} {:>8}\n", "cost of one event (scope: 2 clock reads + store)",
             per_event, "-", "-");
  fmt::print("{:<44} {:>9.1f} ns {:>12} {:>8}\n", "cost of one dropped event (buffer full)", per_dropped, "-",
             "-");
  fmt::print("{:<44} {:>9.3f} ms {:>12} {:>8}\n", "step time untraced (64 events/step)", t_plain * 1e3, "-",
             "-");
  fmt::print("{:<44} {:>10.4f}% {:>11.1f}% {:>8.4f}\n", "recording overhead, events × cost / step",
             100 * estimate, 2.0, estimate / 0.02);
  fmt::print("{:<44} {:>10.4f}% {:>11.1f}% {:>8.4f}\n", "recording overhead, measured (noisy)",
             100 * measured, 2.0, measured / 0.02);
  fmt::print("{:<44} {:>10.4f}% {:>12} {:>8}\n", "noise floor: untraced vs untraced",
             100 * (t_plain_b - t_plain) / t_plain, "-", "-");
  fmt::print("events per step at which recording reaches 2% of this step: {:.0f}\n",
             0.02 * t_plain * 1e9 / per_event);
  return 0;
}
