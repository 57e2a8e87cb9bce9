// paraxis/core/json_read.h — JSON from files paraxis did not write itself, with a bound on nesting.
//
//   nlohmann::json j = parse_json_bounded(in, "--machine m.json");   // discarded() on a syntax error
//   if (j.is_discarded()) ...                                          // the caller words that message
//
// A document nested deeper than kMaxJsonDepth (a trace whose event args hold an array a million levels deep)
// is a user error (exit 2) naming `what`: paraxis's own files are a few levels deep, and a deep document
// would exhaust the stack in code that walks it recursively.
#pragma once

#include <istream>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace paraxis {

inline constexpr int kMaxJsonDepth = 64;

// allow_exceptions: a syntax error throws nlohmann::json::parse_error (its message says where) instead.
nlohmann::json parse_json_bounded(std::istream& in, const std::string& what, bool allow_exceptions = false);
nlohmann::json parse_json_bounded(std::string_view text, const std::string& what,
                                  bool allow_exceptions = false);

}  // namespace paraxis
