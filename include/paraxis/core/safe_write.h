// paraxis/core/safe_write.h — every file paraxis writes goes through here (docs/io.md §Writing files).
//
//   check_output_path("--save", "model.safetensors");        // before any work starts: exit 2 if it cannot be
//                                                             // written (a link, device, FIFO, directory, ...)
//   write_file_atomic("--save", "model.safetensors", bytes); // temp beside it, fsync, rename, fsync the dir
//   write_output("-o", "-", html);                           // "-" is stdout; any other path is atomic
//
//   AtomicFile f("--save", path);                            // streaming: <path>.tmp.<pid> until commit()
//   f.write(data, n);                                        // every write checked (a full disk: exit 1)
//   f.commit();                                              // the destructor removes an uncommitted temp
//
//   AppendFile log("--log", path, /*truncate=*/true);        // a file that grows line by line
//   log.write_line(text);
//
// Rules: only regular files are replaced (a symlink, device node, FIFO, socket or directory at the path is a
// user error, exit 2, naming the path and what to give instead); a temp file of a process that has died
// (`<path>.tmp.<pid>`) is removed when the path is next written.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace paraxis {

// Throws a user error unless `path` can be written: the path is absent or a regular file, its directory
// exists and a file can be created in it (probed). `what` names the flag (e.g. "--save"). "-" passes when
// `allow_stdout` is set.
void check_output_path(const std::string& what, const std::string& path, bool allow_stdout = false);

// Removes `<path>.tmp.<pid>` files whose process no longer exists. Returns how many it removed.
int remove_stale_temps(const std::string& path);

class AtomicFile {
 public:
  AtomicFile(std::string what, std::string path);
  ~AtomicFile();
  AtomicFile(const AtomicFile&)            = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(const void* data, size_t n);
  void write(std::string_view s) { write(s.data(), s.size()); }
  void commit();  // fsync, close, rename over the path, fsync the directory
  int fd() const { return fd_; }
  const std::string& temp_path() const { return tmp_; }

 private:
  std::string what_, path_, tmp_;
  int fd_         = -1;
  bool committed_ = false;
};

void write_file_atomic(const std::string& what, const std::string& path, std::string_view bytes);

// "-": stdout (flushed and checked); otherwise write_file_atomic.
void write_output(const std::string& what, const std::string& path, std::string_view bytes);

class AppendFile {
 public:
  AppendFile(std::string what, std::string path, bool truncate);
  ~AppendFile();
  AppendFile(const AppendFile&)            = delete;
  AppendFile& operator=(const AppendFile&) = delete;

  void write_line(std::string_view line);

 private:
  std::string what_, path_;
  int fd_ = -1;
};

}  // namespace paraxis
