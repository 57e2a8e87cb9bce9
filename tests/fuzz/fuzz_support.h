// tests/fuzz: what every libFuzzer harness shares (docs/architecture.md, "Fuzzing").
//
//   extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
//     return fuzz::expect_user_errors([&] { read_safetensors(fuzz::write_input("in.safetensors", data, size)); });
//   }
//
// A user error (paraxis::Error of kind kUser: exit 2 with one message) is an expected outcome of bad input.
// Anything else a parser lets out — a runtime error (exit 1), another std::exception (the CLI's "internal
// error", exit 1) — aborts, so libFuzzer reports it with its input; crashes and sanitizer reports stop the
// run by themselves.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <string>

#include "paraxis/core/error.h"

namespace fuzz {

template <class F>
int expect_user_errors(F&& parse) {
  try {
    parse();
  } catch (const paraxis::Error& e) {
    if (e.kind() == paraxis::ErrorKind::kUser) return 0;
    std::fprintf(stderr, "fuzz: bad input ended in a runtime error (exit 1), not a user error: %s\n",
                 e.what());
    std::abort();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fuzz: bad input ended in an internal error (exit 1): %s\n", e.what());
    std::abort();
  }
  return 0;
}

// This process's scratch directory (under TMPDIR), made once and removed at exit (never destroyed itself, so
// the exit handler may still read it).
inline const std::filesystem::path& scratch_dir() {
  static const std::filesystem::path* dir = [] {
    auto* d = new std::filesystem::path(std::filesystem::temp_directory_path() /
                                        ("paraxis-fuzz-" + std::to_string(::getpid())));
    std::filesystem::create_directories(*d);
    std::atexit([] { std::filesystem::remove_all(scratch_dir()); });
    return d;
  }();
  return *dir;
}

// The input as the file `name` in the scratch directory (the readers the CLI uses take a path).
inline std::string write_input(const std::string& name, const uint8_t* data, size_t size) {
  const std::string path = (scratch_dir() / name).string();
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  out.close();
  if (!out) {
    std::fprintf(stderr, "fuzz: cannot write %s\n", path.c_str());
    std::abort();
  }
  return path;
}

}  // namespace fuzz
