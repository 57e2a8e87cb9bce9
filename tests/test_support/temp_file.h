// A fresh path in the test's temporary directory, removed when the test ends.
//
//   TempFile f("mlp");          // /tmp/mlp.<pid>.safetensors
//   save(..., f.path());
#pragma once

#include <unistd.h>

#include <filesystem>
#include <string>

namespace paraxis::testing {

class TempFile {
 public:
  explicit TempFile(const std::string& stem, const std::string& ext = ".safetensors")
      : path_((std::filesystem::temp_directory_path() / (stem + "." + std::to_string(::getpid()) + ext))
                  .string()) {}
  ~TempFile() { std::filesystem::remove(path_); }
  TempFile(const TempFile&)            = delete;
  TempFile& operator=(const TempFile&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace paraxis::testing
