// The threads backend: closed-form results of every op for sizes {0, 1, 7, 1M+3} on {1, 2, 3, 4} devices,
// sub-communicators, Tensor overloads, sequence numbers and the ring buffer.
#include <gtest/gtest.h>

#include <mutex>

#include "comm/collective_checks.h"
#include "paraxis/comm/launch.h"
#include "paraxis/core/error.h"

namespace paraxis {
namespace {

DeviceOptions test_options() {
  DeviceOptions opt;
  opt.comm_timeout_s = 120;  // a bug shows as a named timeout, not a hung test
  return opt;
}

class EveryOp : public ::testing::TestWithParam<std::tuple<int, int64_t>> {};

TEST_P(EveryOp, ClosedForm) {
  const auto [devices, count] = GetParam();
  std::mutex mutex;
  std::vector<std::string> failures;
  run_devices(devices, test_options(), [&](Communicator& comm) {
    EXPECT_EQ(comm.size(), devices);
    EXPECT_EQ(comm.rank(), current_device());
    auto mine = testing::check_every_op(comm, count);
    std::lock_guard<std::mutex> lock(mutex);
    for (auto& f : mine) failures.push_back(fmt::format("device {}: {}", comm.rank(), f));
  });
  EXPECT_TRUE(failures.empty()) << fmt::format("{}", fmt::join(failures, "\n"));
}

INSTANTIATE_TEST_SUITE_P(ThreadsComm, EveryOp,
                         ::testing::Combine(::testing::Values(1, 2, 3, 4),
                                            ::testing::Values<int64_t>(0, 1, 7, (1 << 20) + 3)),
                         [](const auto& info) {
                           return fmt::format("devices{}_count{}", std::get<0>(info.param),
                                              std::get<1>(info.param));
                         });

TEST(ThreadsComm, SplitFormsGroupsByColorRankedByKey) {
  // 4 devices, color = rank % 2, key = -rank: groups {3, 1} and {2, 0} (reverse order of rank).
  run_devices(4, test_options(), [](Communicator& world) {
    auto sub = world.split(world.rank() % 2, -world.rank());
    ASSERT_NE(sub, nullptr);
    EXPECT_EQ(sub->size(), 2);
    EXPECT_EQ(sub->rank(), world.rank() >= 2 ? 0 : 1);
    float x = static_cast<float>(world.rank());
    sub->all_reduce(&x, 1);
    EXPECT_EQ(x, world.rank() % 2 == 0 ? 0.0f + 2.0f : 1.0f + 3.0f);
    // The world still works alongside, and a nested split of one member leaves the rest out.
    world.barrier();
    auto solo = sub->split(sub->rank() == 0 ? 0 : -1, 0);
    EXPECT_EQ(solo != nullptr, sub->rank() == 0);
    if (solo) EXPECT_EQ(solo->size(), 1);
  });
}

TEST(ThreadsComm, TensorOverloads) {
  run_devices(2, test_options(), [](Communicator& comm) {
    Tensor t = Tensor::full({2, 3}, static_cast<float>(comm.rank() + 1));
    comm.all_reduce(t);
    EXPECT_EQ(t.to_vector(), std::vector<float>(6, 3.0f));
    Tensor part  = Tensor::full({3}, static_cast<float>(comm.rank()));
    Tensor whole = Tensor::zeros({6});
    comm.all_gather(whole, part);
    EXPECT_EQ(whole.to_vector(), (std::vector<float>{0, 0, 0, 1, 1, 1}));
    Tensor mine = Tensor::zeros({3});
    comm.reduce_scatter(mine, whole);
    EXPECT_EQ(mine.to_vector(), std::vector<float>(3, static_cast<float>(2 * comm.rank())));
    Tensor bad = Tensor::zeros({4});
    EXPECT_THROW(comm.all_gather(bad, part), Error);  // 4 is not 2 × 3, checked before any device waits
    if (comm.rank() == 0) {
      comm.send(part, 1, 3);
    } else {
      Tensor got = Tensor::zeros({3});
      comm.recv(got, 0, 3);
      EXPECT_EQ(got.to_vector(), std::vector<float>(3, 0.0f));
    }
  });
}

TEST(ThreadsComm, SequenceNumbersAndRingBuffer) {
  run_devices(2, test_options(), [](Communicator& comm) {
    EXPECT_EQ(comm.next_seq(), 0u);
    float x = 1;
    comm.all_reduce(&x, 1);
    comm.broadcast(&x, 1, 0);
    comm.barrier();
    EXPECT_EQ(comm.next_seq(), 3u);
    auto ops = comm.recent_ops();
    ASSERT_EQ(ops.size(), 3u);
    EXPECT_EQ(ops[0].call.op, CommOp::kAllReduce);
    EXPECT_EQ(ops[1].call.op, CommOp::kBroadcast);
    EXPECT_EQ(ops[1].call.seq, 1u);
    EXPECT_EQ(ops[2].state, OpState::kDone);
    for (int i = 0; i < 100; ++i) comm.barrier();
    EXPECT_EQ(comm.recent_ops().size(), static_cast<size_t>(Communicator::kRingSize));
    EXPECT_EQ(comm.recent_ops().back().call.seq, 102u);
  });
}

TEST(ThreadsComm, ManyDevicesOnFewCoresDoNotStall) {
  // 8 devices on this 2-core machine: waits must block instead of spinning, or this takes minutes.
  run_devices(8, test_options(), [](Communicator& comm) {
    std::vector<float> g(1000, 1.0f);
    for (int step = 0; step < 200; ++step) comm.all_reduce(g.data(), 1000, ReduceOp::kAverage);
    EXPECT_EQ(g[999], 1.0f);
  });
}

}  // namespace
}  // namespace paraxis
