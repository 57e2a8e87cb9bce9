// Hostile trace and hardware-profile JSON: seeded mutations give a result or a user error, never a crash or
// a stray nlohmann exception (a field of the wrong type is the file's fault: exit 2).
#include <gtest/gtest.h>

#include <cstdio>

#include "paraxis/core/json_read.h"
#include "paraxis/cost/hardware.h"
#include "paraxis/trace/chrome_trace.h"
#include "paraxis/trace/synthetic.h"
#include "test_support/mutate.h"
#include "test_support/user_error.h"

using namespace paraxis;
using namespace paraxis::testing;

namespace {

std::vector<uint8_t> bytes_of(const std::string& s) {
  return {s.begin(), s.end()};
}

template <class F>
MutationTally mutate_json(const std::string& valid, int count, F read) {
  MutationTally tally;
  for (uint32_t seed = 0; seed < static_cast<uint32_t>(count); ++seed) {
    const std::vector<uint8_t> m = mutate(bytes_of(valid), seed);
    expect_success_or_user_error(
        [&] {
          nlohmann::json doc = parse_json_bounded(
              std::string_view(reinterpret_cast<const char*>(m.data()), m.size()), "mutated");
          PX_USER_CHECK(!doc.is_discarded(), "not JSON");  // what the readers say, in their words
          read(doc);
        },
        seed, tally);
  }
  return tally;
}

TEST(TraceMutation, MutatedTracesGiveASetOrAUserError) {
  const std::string valid =
      trace::to_chrome_json(trace::synthetic_pipeline({.stages = 2, .microbatches = 2})).dump();
  const MutationTally t = mutate_json(
      valid, 300, [](const nlohmann::json& doc) { trace::from_chrome_json(doc, "mutated trace"); });
  std::printf("trace JSON: 300 mutations, %d read, %d user errors\n", t.ok, t.user_errors);
}

TEST(TraceMutation, AWronglyTypedFieldNamesTheEvent) {
  const nlohmann::json doc =
      nlohmann::json::parse(R"({"traceEvents":[{"ph":"X","pid":0,"ts":0,"dur":1,"cat":3}]})");
  EXPECT_USER_ERROR(trace::from_chrome_json(doc, "t.json"), "t.json", "traceEvents[0]", "wrong type");
}

TEST(HardwareMutation, MutatedProfilesGiveAProfileOrAUserError) {
  const std::string valid = cost::to_json(cost::hardware_preset("h100-sxm")).dump(2);
  const MutationTally t   = mutate_json(
        valid, 300, [](const nlohmann::json& doc) { cost::hardware_from_json(doc, "mutated profile"); });
  std::printf("hardware JSON: 300 mutations, %d read, %d user errors\n", t.ok, t.user_errors);
}

}  // namespace
