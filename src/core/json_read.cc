#include "paraxis/core/json_read.h"

#include "paraxis/core/error.h"

namespace paraxis {

namespace {

using nlohmann::json;

// Called by the parser as it enters each object or array; throwing ends the parse before it goes deeper.
json::parser_callback_t depth_guard(const std::string& what) {
  return [what](int depth, json::parse_event_t event, json&) {
    if ((event == json::parse_event_t::object_start || event == json::parse_event_t::array_start) &&
        depth >= kMaxJsonDepth)
      PX_USER_FAIL(
          "{}: JSON nested deeper than {} levels; paraxis reads documents of a few levels (is the "
          "file corrupt or hostile?)",
          what, kMaxJsonDepth);
    return true;
  };
}

}  // namespace

json parse_json_bounded(std::istream& in, const std::string& what, bool allow_exceptions) {
  return json::parse(in, depth_guard(what), allow_exceptions);
}

json parse_json_bounded(std::string_view text, const std::string& what, bool allow_exceptions) {
  return json::parse(text, depth_guard(what), allow_exceptions);
}

}  // namespace paraxis
