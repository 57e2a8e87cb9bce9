// The checkpoint directory's lock (src/train/checkpoint_lock.cc): a running owner keeps it; an owner that has
// ended is stale and taken over, a zombie (ended, not reaped: a killed MPI rank whose launcher is gone) too.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "paraxis/train/checkpoint.h"
#include "test_support/user_error.h"

namespace paraxis {
namespace {

namespace fs = std::filesystem;

struct LockDir {
  fs::path dir = fs::temp_directory_path() / ("paraxis_lock_test." + std::to_string(::getpid()));
  LockDir() { fs::create_directories(dir); }
  ~LockDir() { fs::remove_all(dir); }
  void owned_by(pid_t pid) const { std::ofstream(dir / "lock") << pid << "\n"; }
};

TEST(CheckpointLock, ARunningOwnerKeepsItAndAZombieOwnerIsStale) {
  LockDir d;
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::pause();  // the other run, holding the lock until it is killed
    ::_exit(0);
  }
  d.owned_by(child);
  testing::expect_user_error([&] { CheckpointLock lock(d.dir.string(), false); },
                             {"is in use by another run", std::to_string(child)});
  ::kill(child, SIGKILL);
  siginfo_t info{};
  ASSERT_EQ(::waitid(P_PID, child, &info, WEXITED | WNOWAIT), 0);  // ended, left a zombie (not reaped)
  {
    CheckpointLock lock(d.dir.string(), false);  // taken over
    std::ifstream in(d.dir / "lock");
    pid_t owner = 0;
    in >> owner;
    EXPECT_EQ(owner, ::getpid());
  }
  EXPECT_FALSE(fs::exists(d.dir / "lock")) << "released when the run ends";
  ::waitpid(child, nullptr, 0);
}

TEST(CheckpointLock, AnEndedOwnerIsStale) {
  LockDir d;
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) ::_exit(0);
  ::waitpid(child, nullptr, 0);  // reaped: the pid is free
  d.owned_by(child);
  CheckpointLock lock(d.dir.string(), false);
  EXPECT_TRUE(fs::exists(d.dir / "lock"));
}

}  // namespace
}  // namespace paraxis
