// paraxis/core/error.h — one family of checks, one exception type.
//
//   PX_CHECK(n > 0, "n must be positive, got {}", n);           // our invariant or a runtime failure: exit 1
//   PX_USER_CHECK(tp <= heads, "--tp {} exceeds {} heads; use --tp 1, 2 or 4", tp, heads);  // bad input:
//   exit 2
//
// Every message is prefixed with the current device ("[device 1] ") when a device is running, and with the
// file:line of the check for runtime/internal errors. User errors say what was given, the rule, and a valid
// alternative; they do not print file:line (it is noise to a user).
#pragma once

#include <fmt/format.h>

#include <stdexcept>
#include <string>

namespace paraxis {

enum class ErrorKind {
  kUser,     // bad input: config, flags, files, sizes; exit code 2
  kRuntime,  // failure while running (I/O, a peer died, a timeout); exit code 1
};

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, const std::string& msg) : std::runtime_error(msg), kind_(kind) {}
  ErrorKind kind() const { return kind_; }
  int exit_code() const { return kind_ == ErrorKind::kUser ? 2 : 1; }

 private:
  ErrorKind kind_;
};

// The device the calling thread works for (-1 outside any device). Set by the runtime on each device thread.
void set_current_device(int device);
int current_device();

namespace detail {
[[noreturn]] void throw_error(ErrorKind kind, const char* file, int line, const std::string& msg);
}  // namespace detail

}  // namespace paraxis

#define PX_CHECK(cond, ...)                                                              \
  do {                                                                                   \
    if (!(cond)) [[unlikely]]                                                            \
      ::paraxis::detail::throw_error(::paraxis::ErrorKind::kRuntime, __FILE__, __LINE__, \
                                     fmt::format(__VA_ARGS__));                          \
  } while (0)

#define PX_USER_CHECK(cond, ...)                                                      \
  do {                                                                                \
    if (!(cond)) [[unlikely]]                                                         \
      ::paraxis::detail::throw_error(::paraxis::ErrorKind::kUser, __FILE__, __LINE__, \
                                     fmt::format(__VA_ARGS__));                       \
  } while (0)

#define PX_FAIL(...) \
  ::paraxis::detail::throw_error(::paraxis::ErrorKind::kRuntime, __FILE__, __LINE__, fmt::format(__VA_ARGS__))
#define PX_USER_FAIL(...) \
  ::paraxis::detail::throw_error(::paraxis::ErrorKind::kUser, __FILE__, __LINE__, fmt::format(__VA_ARGS__))
