// Closed-form checks of every collective, shared by the threads tests (gtest) and the MPI test program.
//
//   std::vector<std::string> failures = check_every_op(comm, 1'000'003);   // empty when all results are
//   right
//
// Every value is a small integer, so every reduction order gives the exact same float: the closed form, and
// threads and MPI agree bit for bit.
#pragma once

#include <fmt/format.h>

#include <string>
#include <vector>

#include "paraxis/comm/communicator.h"

namespace paraxis::testing {

// The value device r holds at element i: r + 1 + 8·(i mod 5).
inline float value_of(int r, int64_t i) {
  return static_cast<float>(r + 1 + 8 * (i % 5));
}

struct Checker {
  std::vector<std::string> failures;
  void expect(const std::vector<float>& got, int64_t i, double want, const std::string& what) {
    if (got[i] == static_cast<float>(want)) return;
    if (failures.size() < 10)
      failures.push_back(fmt::format("{}: element {} is {}, expected {}", what, i, got[i], want));
  }
  // Checks a few elements at both ends and a stride through the middle (all of them for small counts).
  template <class F>
  void expect_all(const std::vector<float>& got, int64_t count, F want, const std::string& what) {
    const int64_t stride = count > 4096 ? 97 : 1;
    for (int64_t i = 0; i < count; i += stride) expect(got, i, want(i), what);
    if (count > 0) expect(got, count - 1, want(count - 1), what);
  }
};

inline std::vector<std::string> check_every_op(Communicator& comm, int64_t count) {
  const int n = comm.size(), r = comm.rank();
  const double ranks_sum = n * (n + 1) / 2.0;
  Checker ck;
  std::vector<float> a(count), out;

  for (ReduceOp op : {ReduceOp::kSum, ReduceOp::kAverage, ReduceOp::kMax}) {
    for (int64_t i = 0; i < count; ++i) a[i] = value_of(r, i);
    comm.all_reduce(a.data(), count, op);
    ck.expect_all(
        a, count,
        [&](int64_t i) {
          const double pattern = 8.0 * (i % 5);
          if (op == ReduceOp::kMax) return n + pattern;
          if (op == ReduceOp::kAverage) return ranks_sum / n + pattern;
          return ranks_sum + n * pattern;
        },
        fmt::format("all_reduce {}", reduce_op_name(op)));
  }

  // reduce_scatter: in (n·count) → out (count) = chunk r of the sum; then in place into this rank's own
  // chunk.
  std::vector<float> in(n * count);
  for (int64_t i = 0; i < n * count; ++i) in[i] = value_of(r, i);
  out.assign(count, -1.0f);
  comm.reduce_scatter(out.data(), in.data(), count);
  auto scattered = [&](int64_t i) { return ranks_sum + n * 8.0 * ((r * count + i) % 5); };
  ck.expect_all(out, count, scattered, "reduce_scatter");
  comm.reduce_scatter(in.data() + r * count, in.data(), count);
  std::vector<float> own(in.begin() + r * count, in.begin() + (r + 1) * count);
  ck.expect_all(own, count, scattered, "reduce_scatter in place");

  // all_gather: in (count) → out (n·count), chunk j from rank j; then in place.
  for (int64_t i = 0; i < count; ++i) a[i] = value_of(r, i);
  out.assign(n * count, -1.0f);
  comm.all_gather(out.data(), a.data(), count);
  auto gathered = [&](int64_t k) {
    return static_cast<double>(value_of(static_cast<int>(k / count), k % count));
  };
  ck.expect_all(out, n * count, gathered, "all_gather");
  out.assign(n * count, -1.0f);
  std::copy(a.begin(), a.end(), out.begin() + r * count);
  comm.all_gather(out.data(), out.data() + r * count, count);
  ck.expect_all(out, n * count, gathered, "all_gather in place");

  // broadcast from the last rank.
  for (int64_t i = 0; i < count; ++i) a[i] = value_of(r, i);
  comm.broadcast(a.data(), count, n - 1);
  ck.expect_all(
      a, count, [&](int64_t i) { return value_of(n - 1, i); }, "broadcast");

  // all_to_all: rank r sends chunk j (values 100·r + 10·j + i mod 7) to rank j.
  for (int j = 0; j < n; ++j)
    for (int64_t i = 0; i < count; ++i) in[j * count + i] = static_cast<float>(100 * r + 10 * j + i % 7);
  out.assign(n * count, -1.0f);
  comm.all_to_all(out.data(), in.data(), count);
  ck.expect_all(
      out, n * count, [&](int64_t k) { return 100.0 * (k / count) + 10.0 * r + (k % count) % 7; },
      "all_to_all");

  // A ring exchange of point-to-point messages.
  if (n > 1) {
    for (int64_t i = 0; i < count; ++i) a[i] = value_of(r, i);
    out.assign(count, -1.0f);
    comm.send_recv(a.data(), count, (r + 1) % n, out.data(), count, (r + n - 1) % n, /*tag=*/7);
    ck.expect_all(
        out, count, [&](int64_t i) { return value_of((r + n - 1) % n, i); }, "send_recv ring");
  }

  // Async forms, two in flight at once, then a barrier.
  for (int64_t i = 0; i < count; ++i) a[i] = value_of(r, i);
  std::vector<float> b(a), gathered_b(n * count, -1.0f);
  Work w1 = comm.all_reduce_async(a.data(), count, ReduceOp::kSum);
  Work w2 = comm.all_gather_async(gathered_b.data(), b.data(), count);
  w2.wait();
  w1.wait();
  if (!w1.done() || !w2.done()) ck.failures.push_back("async: done() is false after wait()");
  ck.expect_all(
      a, count, [&](int64_t i) { return ranks_sum + n * 8.0 * (i % 5); }, "all_reduce_async");
  ck.expect_all(gathered_b, n * count, gathered, "all_gather_async");
  comm.barrier();
  comm.barrier_async().wait();
  return ck.failures;
}

}  // namespace paraxis::testing
