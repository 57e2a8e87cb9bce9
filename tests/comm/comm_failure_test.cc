// Failures on the threads backend: a throwing device, the watchdog, a device that returns early, mismatched
// collectives, bad arguments. Each must end every device with a clear error — never a hang.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "paraxis/comm/launch.h"
#include "paraxis/core/error.h"
#include "test_support/user_error.h"

namespace paraxis {
namespace {

// EXPECT_TRUE(Contains(err, "...")) prints the whole message when the part is missing.
::testing::AssertionResult Contains(const std::string& text, const std::string& part) {
  if (text.find(part) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "expected to find \"" << part << "\" in:\n" << text;
}

// Runs `body` on `devices` threads and returns the error run_devices rethrew ("" if none).
std::string error_of(int devices, const std::function<void(Communicator&)>& body, double timeout_s = 60) {
  DeviceOptions opt;
  opt.comm_timeout_s = timeout_s;
  try {
    run_devices(devices, opt, body);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(CommFailure, ThrowingDeviceWakesTheOthersWithTheRootCause) {
  for (int devices : {2, 4}) {
    std::atomic<int> woken{0};
    std::string err = error_of(devices, [&](Communicator& comm) {
      std::vector<float> g(1 << 16, 1.0f);
      comm.all_reduce(g.data(), g.size());
      if (comm.rank() == 1) PX_FAIL("out of memory in layer fc1");  // the others are already in the next call
      try {
        comm.all_reduce(g.data(), g.size());
      } catch (const Error& e) {
        EXPECT_TRUE(Contains(std::string(e.what()), "aborted because device 1 failed"));
        EXPECT_TRUE(Contains(std::string(e.what()), "out of memory in layer fc1"));
        ++woken;
        throw;
      }
    });
    EXPECT_TRUE(Contains(err, "[device 1] out of memory in layer fc1"));
    EXPECT_EQ(woken.load(), devices - 1);
  }
}

TEST(CommFailure, ThrowingDeviceWakesPeersInPointToPointAndSubCommunicators) {
  std::string err = error_of(4, [](Communicator& world) {
    auto pair = world.split(world.rank() / 2, world.rank());
    if (world.rank() == 3) throw Error(ErrorKind::kUser, "bad batch file");
    float x = 0;
    if (world.rank() == 0) world.recv(&x, 1, 3);  // waits for a send that never comes
    if (world.rank() == 2) pair->barrier();       // waits in a sub-communicator for device 3
    if (world.rank() == 1) world.barrier();
  });
  EXPECT_EQ(err, "bad batch file");
}

TEST(CommFailure, WatchdogNamesTheStuckCollectiveAndWhoArrived) {
  std::string err = error_of(
      3,
      [](Communicator& comm) {
        float x = 1;
        comm.all_reduce(&x, 1);
        if (comm.rank() == 2) {
          // Device 2 skips the broadcast: it waits (outside any call) until the watchdog gave up on the
          // others.
          while (!comm.aborted()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
        comm.broadcast(&x, 1, 0);
      },
      /*timeout_s=*/0.2);
  EXPECT_TRUE(Contains(err, "comm watchdog"));
  EXPECT_TRUE(Contains(err, "broadcast #1 (1 floats, root 0) on world"));
  EXPECT_TRUE(Contains(err, "Arrived: devices 0, 1; not arrived: devices 2"));
  EXPECT_TRUE(Contains(err, "all_reduce #0 (1 floats, sum) [done]"));  // device 2's last call
}

TEST(CommFailure, WatchdogNamesAStuckReceive) {
  std::string err = error_of(
      2,
      [](Communicator& comm) {
        float x = 1;
        if (comm.rank() == 0) comm.recv(&x, 1, 1, /*tag=*/5);
        while (!comm.aborted()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
        comm.barrier();
      },
      0.2);
  EXPECT_TRUE(Contains(err, "recv #0 (1 floats from rank 1, tag 5)"));
  EXPECT_TRUE(Contains(err, "the matching send on device 1 was not posted"));
}

TEST(CommFailure, DeviceReturningEarlyWakesTheWaiters) {
  std::string err = error_of(2, [](Communicator& comm) {
    if (comm.rank() == 1) return;  // forgets the all-reduce
    float x = 1;
    comm.all_reduce(&x, 1);
  });
  EXPECT_TRUE(Contains(err, "device 1 returned while device 0 waits for it in all_reduce #0"));
}

TEST(CommFailure, MismatchedCollectivesAreNamed) {
  std::string err = error_of(2, [](Communicator& comm) {
    std::vector<float> x(16, 1.0f);
    comm.all_reduce(x.data(), comm.rank() == 0 ? 8 : 16);
  });
  EXPECT_TRUE(Contains(err, "collective mismatch on world"));
  EXPECT_TRUE(Contains(err, "device 0 called all_reduce #0 (8 floats, sum)"));
  EXPECT_TRUE(Contains(err, "device 1 called all_reduce #0 (16 floats, sum)"));

  err = error_of(2, [](Communicator& comm) {
    std::vector<float> x(4, 1.0f), y(8);
    if (comm.rank() == 0) comm.broadcast(x.data(), 4, 0);
    if (comm.rank() == 1) comm.all_gather(y.data(), x.data(), 4);
  });
  EXPECT_TRUE(Contains(err, "device 0 called broadcast #0 (4 floats, root 0)"));
  EXPECT_TRUE(Contains(err, "device 1 called all_gather #0 (4 floats)"));
}

TEST(CommFailure, MismatchedPointToPointCounts) {
  std::string err = error_of(2, [](Communicator& comm) {
    std::vector<float> x(8, 1.0f);
    if (comm.rank() == 0) comm.send(x.data(), 8, 1);
    if (comm.rank() == 1) comm.recv(x.data(), 4, 0);
  });
  EXPECT_TRUE(Contains(err, "send of 8 floats from rank 0 does not match recv of 4 floats at rank 1"));
}

TEST(CommFailure, BadArgumentsAreUserErrors) {
  auto user_error = [](const std::function<void(Communicator&)>& call) -> std::string {
    std::string msg;
    run_devices(2, {}, [&](Communicator& comm) {
      if (comm.rank() != 0) return;
      msg = ::paraxis::testing::user_error([&] { call(comm); });
    });
    return msg;
  };
  std::vector<float> x(8);
  EXPECT_TRUE(Contains(user_error([&](Communicator& c) { c.all_reduce(x.data(), -5); }),
                       "all_reduce: count -5 is negative"));
  EXPECT_TRUE(Contains(user_error([&](Communicator& c) { c.broadcast(x.data(), 8, 2); }),
                       "broadcast: root 2 is out of range; use a rank in 0..1"));
  EXPECT_TRUE(
      Contains(user_error([&](Communicator& c) { c.send(x.data(), 8, 0); }), "peer 0 is this rank itself"));
  EXPECT_TRUE(
      Contains(user_error([&](Communicator& c) { c.recv(x.data(), 8, 5); }), "peer 5 is out of range"));
  EXPECT_TRUE(Contains(user_error([&](Communicator& c) { c.all_to_all(x.data(), x.data() + 2, 2); }),
                       "all_to_all: output overlaps the input"));
  EXPECT_TRUE(Contains(user_error([&](Communicator& c) { c.all_reduce(nullptr, 3); }), "output is null"));
  Tensor a = Tensor::zeros({5}), b = Tensor::zeros({8});
  EXPECT_TRUE(Contains(user_error([&](Communicator& c) { c.reduce_scatter(a, b); }),
                       "the input must hold size (2) × output elements (10)"));

  auto launch_error = [](int devices, DeviceOptions opt) -> std::string {
    return ::paraxis::testing::user_error([&] { run_devices(devices, opt, [](Communicator&) {}); });
  };
  EXPECT_TRUE(Contains(launch_error(0, {}), "--devices 0 must be at least 1"));
  DeviceOptions opt;
  opt.threads_per_device = 0;
  EXPECT_TRUE(Contains(launch_error(2, opt), "--threads-per-device 0 must be at least 1"));
  EXPECT_THROW(parse_backend("nccl"), Error);
}

}  // namespace
}  // namespace paraxis
