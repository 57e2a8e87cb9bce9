#include "paraxis/core/safe_write.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "paraxis/core/error.h"

namespace paraxis {

namespace {

std::string parent_dir(const std::string& path) {
  std::string dir = std::filesystem::path(path).parent_path().string();
  return dir.empty() ? "." : dir;
}

std::string temp_name(const std::string& path, long pid) {
  return fmt::format("{}.tmp.{}", path, pid);
}

const char* special_kind(mode_t mode) {
  if (S_ISLNK(mode)) return "a symbolic link";
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISCHR(mode) || S_ISBLK(mode)) return "a device";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISSOCK(mode)) return "a socket";
  return nullptr;
}

// The rule: paraxis replaces regular files only (today's target, checked again just before the rename).
void check_not_special(const std::string& what, const std::string& path, bool allow_stdout) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return;
  const char* kind = special_kind(st.st_mode);
  PX_USER_CHECK(kind == nullptr,
                "{} {}: the path is {}; paraxis writes only regular files and never replaces anything "
                "else; give the path of a new or regular file{}",
                what, path, kind, allow_stdout ? " (or - for stdout)" : "");
}

void probe_directory(const std::string& what, const std::string& path) {
  const std::string dir = parent_dir(path);
  struct stat st {};
  PX_USER_CHECK(::stat(dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode),
                "{} {}: directory {} does not exist; create it first", what, path, dir);
  const std::string probe = temp_name(path, ::getpid());
  int fd                  = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  PX_USER_CHECK(fd >= 0, "{} {}: cannot create a file in {}: {}; give a path in a writable directory", what,
                path, dir, std::strerror(errno));
  ::close(fd);
  ::unlink(probe.c_str());
}

void write_all(int fd, const char* p, size_t n, const std::string& what, const std::string& path) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    PX_CHECK(w > 0, "{} {}: writing failed: {}; the file was not written (free space or choose another path)",
             what, path, w < 0 ? std::strerror(errno) : "no progress");
    p += w, n -= static_cast<size_t>(w);
  }
}

void fsync_directory(const std::string& path) {
  int dfd = ::open(parent_dir(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return;
  ::fsync(dfd);  // makes the rename durable; some file systems refuse fsync on a directory, harmlessly
  ::close(dfd);
}

bool is_digits(const std::string& s) {
  return !s.empty() && s.find_first_not_of("0123456789") == std::string::npos && s.size() < 10;
}

}  // namespace

void check_output_path(const std::string& what, const std::string& path, bool allow_stdout) {
  if (path == "-" && allow_stdout) return;
  PX_USER_CHECK(!path.empty(), "{}: the path is empty; give a file name", what);
  PX_USER_CHECK(path != "-", "{} -: this output cannot go to stdout; give a file name", what);
  check_not_special(what, path, allow_stdout);
  probe_directory(what, path);
}

int remove_stale_temps(const std::string& path) {
  const std::string dir    = parent_dir(path);
  const std::string prefix = std::filesystem::path(path).filename().string() + ".tmp.";
  DIR* d                   = ::opendir(dir.c_str());
  if (d == nullptr) return 0;
  int removed = 0;
  while (const dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (name.rfind(prefix, 0) != 0 || !is_digits(name.substr(prefix.size()))) continue;
    const long pid = std::stol(name.substr(prefix.size()));
    if (pid == ::getpid() || ::kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH) continue;
    if (::unlink((std::filesystem::path(dir) / name).c_str()) == 0) ++removed;
  }
  ::closedir(d);
  return removed;
}

AtomicFile::AtomicFile(std::string what, std::string path)
    : what_(std::move(what)), path_(std::move(path)), tmp_(temp_name(path_, ::getpid())) {
  check_not_special(what_, path_, false);
  remove_stale_temps(path_);
  fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  PX_USER_CHECK(fd_ >= 0, "{} {}: cannot create {}: {}; check that the directory exists and is writable",
                what_, path_, tmp_, std::strerror(errno));
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) ::unlink(tmp_.c_str());
}

void AtomicFile::write(const void* data, size_t n) {
  PX_CHECK(fd_ >= 0, "{} {}: write after commit", what_, path_);
  write_all(fd_, static_cast<const char*>(data), n, what_, path_);
}

void AtomicFile::commit() {
  PX_CHECK(::fsync(fd_) == 0, "{} {}: fsync failed: {}; the file was not written", what_, path_,
           std::strerror(errno));
  const int fd = fd_;
  fd_          = -1;
  PX_CHECK(::close(fd) == 0, "{} {}: closing failed: {}; the file was not written", what_, path_,
           std::strerror(errno));
  check_not_special(what_, path_, false);  // it may have changed while we wrote
  PX_CHECK(::rename(tmp_.c_str(), path_.c_str()) == 0, "{}: renaming {} to {} failed: {}", what_, tmp_, path_,
           std::strerror(errno));
  committed_ = true;
  fsync_directory(path_);
}

void write_file_atomic(const std::string& what, const std::string& path, std::string_view bytes) {
  AtomicFile f(what, path);
  f.write(bytes);
  f.commit();
}

void write_output(const std::string& what, const std::string& path, std::string_view bytes) {
  if (path != "-") return write_file_atomic(what, path, bytes);
  std::fflush(stdout);
  write_all(STDOUT_FILENO, bytes.data(), bytes.size(), what, "(stdout)");
}

AppendFile::AppendFile(std::string what, std::string path, bool truncate)
    : what_(std::move(what)), path_(std::move(path)) {
  check_not_special(what_, path_, false);
  fd_ = ::open(path_.c_str(),
               O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW | (truncate ? O_TRUNC : 0), 0644);
  PX_USER_CHECK(fd_ >= 0, "{} {}: cannot open for writing: {}; give a path in a writable directory", what_,
                path_, std::strerror(errno));
}

AppendFile::~AppendFile() {
  if (fd_ >= 0) ::close(fd_);
}

void AppendFile::write_line(std::string_view line) {
  std::string text(line);
  text += '\n';
  write_all(fd_, text.data(), text.size(), what_, path_);
}

}  // namespace paraxis
