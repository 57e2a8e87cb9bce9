// DIR/lock: one run per checkpoint directory. Two runs writing into one directory would overwrite each
// other's steps; the lock holds the owner's pid, and a lock whose process is gone (killed) is taken over.
#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "paraxis/core/error.h"
#include "paraxis/train/checkpoint.h"
#include "train/checkpoint_store.h"

namespace paraxis {

namespace fs = std::filesystem;

namespace {

// Creates the lock file with our pid if there is none; false if it exists.
bool try_create(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) {
    PX_USER_CHECK(errno == EEXIST, "--checkpoint-dir: cannot create {}: {}", path, std::strerror(errno));
    return false;
  }
  const std::string pid = fmt::format("{}\n", ::getpid());
  const bool ok         = ::write(fd, pid.data(), pid.size()) == static_cast<ssize_t>(pid.size());
  ::close(fd);
  PX_CHECK(ok, "cannot write {}", path);
  return true;
}

// The pid in an existing lock; 0 if unreadable (a lock being written, or damaged).
long owner_of(const std::string& path) {
  std::ifstream in(path);
  long pid = 0;
  in >> pid;
  return in ? pid : 0;
}

// A zombie (ended, not yet reaped: a killed MPI rank whose launcher is gone, in a container whose init does
// not reap) answers kill(pid, 0) but holds nothing: /proc/PID/stat's state after the name is Z.
bool zombie(long pid) {
  std::ifstream in(fmt::format("/proc/{}/stat", pid));
  std::string stat;
  std::getline(in, stat);
  const size_t name_end = stat.rfind(')');
  return name_end != std::string::npos && name_end + 2 < stat.size() && stat[name_end + 2] == 'Z';
}

bool alive(long pid) {
  return pid > 0 && (::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM) && !zombie(pid);
}

}  // namespace

CheckpointLock::CheckpointLock(const std::string& dir, bool talk) : path_((fs::path(dir) / "lock").string()) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  PX_USER_CHECK(!ec, "--checkpoint-dir {}: cannot create: {}", dir, ec.message());
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (try_create(path_)) return;
    const long pid = owner_of(path_);
    PX_USER_CHECK(!alive(pid) || pid == ::getpid(),
                  "--checkpoint-dir {} is in use by another run (pid {}, {}); use another directory, or stop "
                  "that run first",
                  dir, pid, path_);
    if (talk)
      fmt::print(stderr, "note: {} was left by pid {}, which is not running; taking it over\n", path_, pid);
    ::unlink(path_.c_str());
  }
  PX_USER_FAIL("--checkpoint-dir {}: another run took {} at the same time; use another directory", dir,
               path_);
}

CheckpointLock::~CheckpointLock() {
  if (owner_of(path_) == ::getpid()) ::unlink(path_.c_str());
}

}  // namespace paraxis
