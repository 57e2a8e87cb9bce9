// The one way a test expects a user error: a paraxis::Error of kind kUser (exit code 2) whose message contains
// every given fragment. (CLI tests do the same with tests/cli/expect_exit.sh.)
//
//   EXPECT_USER_ERROR(parse_action("1X0"), "'1X0'", "{stage}{KIND}{micro-batch}");
//   EXPECT_USER_ERROR(read_safetensors(path), path, fragments);  // strings and vectors of strings, mixed
//   expect_user_error([&] { build_model(spec); }, "at least 2 sizes");  // a callable; one fragment or {...}
//   std::string msg = user_error([&] { make_grid(8, 0, 3, 1); });      // the message, to check otherwise
//
// Each fails the test when the statement throws nothing, or throws a runtime error (exit code 1).
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "paraxis/core/error.h"

namespace paraxis::testing {

// The fragments a message must contain: one string, a braced list, a vector, or (Fragments::of) any mix.
struct Fragments {
  std::vector<std::string> list;

  Fragments() = default;
  Fragments(const char* s) : list{s} {}
  Fragments(std::string s) : list{std::move(s)} {}
  Fragments(std::initializer_list<std::string> l) : list(l) {}
  Fragments(std::vector<std::string> v) : list(std::move(v)) {}

  template <class... A>
  static Fragments of(const A&... parts) {
    Fragments f;
    (f.add(parts), ...);
    return f;
  }

 private:
  void add(std::string_view s) { list.emplace_back(s); }
  void add(const std::vector<std::string>& v) { list.insert(list.end(), v.begin(), v.end()); }
};

}  // namespace paraxis::testing

// Runs `statement`; expects a user error whose message contains each fragment (none: any message).
#define EXPECT_USER_ERROR(statement, ...)                                                         \
  do {                                                                                            \
    try {                                                                                         \
      statement;                                                                                  \
      ADD_FAILURE() << "expected a user error (exit code 2) from " #statement;                    \
    } catch (const ::paraxis::Error& px_user_error_) {                                            \
      EXPECT_EQ(px_user_error_.exit_code(), 2) << #statement << ": " << px_user_error_.what();    \
      for (const std::string& px_fragment_ : ::paraxis::testing::Fragments::of(__VA_ARGS__).list) \
        EXPECT_NE(std::string(px_user_error_.what()).find(px_fragment_), std::string::npos)       \
            << "message lacks '" << px_fragment_ << "':\n"                                        \
            << px_user_error_.what();                                                             \
    }                                                                                             \
  } while (0)

namespace paraxis::testing {

// EXPECT_USER_ERROR for a callable.
inline void expect_user_error(const std::function<void()>& f, const Fragments& fragments) {
  EXPECT_USER_ERROR(f(), fragments.list);
}

// Runs `f`, expects a user error and returns its message ("" after a test failure when there is none).
inline std::string user_error(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    EXPECT_EQ(e.exit_code(), 2) << e.what();
    return e.what();
  }
  ADD_FAILURE() << "expected a user error (exit code 2); none was thrown";
  return "";
}

}  // namespace paraxis::testing
