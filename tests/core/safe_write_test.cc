// Safe writes (core/safe_write.h): regular files only, temp + rename, every write checked, stale temps removed.
#include "paraxis/core/safe_write.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "paraxis/core/error.h"

using namespace paraxis;
namespace fs = std::filesystem;

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() / ("paraxis_safe_write_test_" + std::to_string(::getpid()));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
  std::string file(const std::string& name) const { return (path / name).string(); }
  int entries() const { return static_cast<int>(std::distance(fs::directory_iterator(path), {})); }
};

std::string read_all(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The user error (exit 2) `f` throws, or "" when it throws none.
template <class F>
std::string user_error_of(F f) {
  try {
    f();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kUser) << e.what();
    return e.what();
  }
  return "";
}

TEST(SafeWrite, ReplacesARegularFileAndLeavesNoTemp) {
  TempDir dir;
  write_file_atomic("--save", dir.file("a"), "first");
  write_file_atomic("--save", dir.file("a"), "second");
  EXPECT_EQ(read_all(dir.file("a")), "second");
  EXPECT_EQ(dir.entries(), 1);
}

TEST(SafeWrite, RefusesToReplaceWhatIsNotARegularFile) {
  TempDir dir;
  std::ofstream(dir.file("target")) << "keep";
  fs::create_symlink(dir.file("target"), dir.file("link"));
  fs::create_directory(dir.file("sub"));
  ASSERT_EQ(::mkfifo(dir.file("fifo").c_str(), 0644), 0);
  EXPECT_NE(user_error_of([&] { write_file_atomic("--save", dir.file("link"), "x"); }).find("symbolic link"),
            std::string::npos);
  EXPECT_NE(user_error_of([&] { write_file_atomic("--save", dir.file("sub"), "x"); }).find("a directory"),
            std::string::npos);
  EXPECT_NE(user_error_of([&] { write_file_atomic("--save", dir.file("fifo"), "x"); }).find("a FIFO"),
            std::string::npos);
  EXPECT_NE(user_error_of([&] { check_output_path("--save", "/dev/full"); }).find("a device"),
            std::string::npos);
  EXPECT_EQ(read_all(dir.file("target")), "keep");
  EXPECT_TRUE(fs::is_symlink(dir.file("link")));
  EXPECT_EQ(dir.entries(), 4);  // no temp file left behind
}

TEST(SafeWrite, ChecksTheDirectoryBeforeAnyWork) {
  TempDir dir;
  EXPECT_NE(
      user_error_of([&] { check_output_path("--trace", dir.file("none/t.json")); }).find("does not exist"),
      std::string::npos);
  EXPECT_NE(user_error_of([&] { check_output_path("--save", "/proc/m.st"); }).find("cannot create a file"),
            std::string::npos);
  EXPECT_NE(user_error_of([&] { check_output_path("--save", "-"); }).find("stdout"), std::string::npos);
  EXPECT_EQ(user_error_of([&] { check_output_path("-o", "-", /*allow_stdout=*/true); }), "");
  EXPECT_EQ(user_error_of([&] { check_output_path("--save", dir.file("new")); }), "");
  EXPECT_EQ(dir.entries(), 0);  // the probe leaves nothing
}

TEST(SafeWrite, RemovesTheTempFilesOfDeadProcessesOnly) {
  TempDir dir;
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  ::waitpid(child, nullptr, 0);  // its pid now belongs to no process
  const std::string target = dir.file("m.st");
  std::ofstream(target + ".tmp." + std::to_string(child)) << "stale";
  std::ofstream(target + ".tmp.1") << "pid 1 is alive";
  std::ofstream(target + ".tmp.x1") << "not ours";
  EXPECT_EQ(remove_stale_temps(target), 1);
  EXPECT_FALSE(fs::exists(target + ".tmp." + std::to_string(child)));
  EXPECT_TRUE(fs::exists(target + ".tmp.1"));
  EXPECT_TRUE(fs::exists(target + ".tmp.x1"));
}

// A write that fails part-way (here a file-size limit; a full disk fails the same way) is a runtime error that
// names the reason, and neither the target nor the temp file is left. Run in a child: the limit is
// per-process.
TEST(SafeWrite, AFailedWriteIsAnErrorAndLeavesNothing) {
  TempDir dir;
  const std::string target = dir.file("big");
  const pid_t child        = ::fork();
  if (child == 0) {
    ::signal(SIGXFSZ, SIG_IGN);
    const rlimit limit{4096, 4096};
    ::setrlimit(RLIMIT_FSIZE, &limit);
    try {
      write_file_atomic("--save", target, std::string(100000, 'x'));
    } catch (const Error& e) {
      const bool ok = e.kind() == ErrorKind::kRuntime &&
                      std::string(e.what()).find("File too large") != std::string::npos;
      ::_exit(ok ? 42 : 1);
    }
    ::_exit(0);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 42);
  EXPECT_EQ(dir.entries(), 0);
}

TEST(SafeWrite, AppendFileWritesLines) {
  TempDir dir;
  {
    AppendFile log("--log", dir.file("l"), /*truncate=*/true);
    log.write_line("a");
  }
  {
    AppendFile log("--log", dir.file("l"), /*truncate=*/false);
    log.write_line("b");
  }
  EXPECT_EQ(read_all(dir.file("l")), "a\nb\n");
}

}  // namespace
