// A ModelSpec survives JSON (what a trace records of its run), and a bad description is a user error.
#include "paraxis/nn/model_spec_json.h"

#include <gtest/gtest.h>

#include "paraxis/core/error.h"

namespace paraxis {

TEST(ModelSpecJson, RoundTripsEveryKind) {
  for (const ModelSpec& s :
       {ModelSpec::mlp({784, 256, 10}), ModelSpec::cnn(8, 16, 64, 10), ModelSpec::gpt(256, 64, 128, 4, 2)})
    EXPECT_EQ(model_spec_from_json(model_spec_to_json(s)).describe(), s.describe());
}

TEST(ModelSpecJson, IncompleteOrKindlessIsAUserError) {
  for (const char* text : {R"({"mlp_sizes":[4,2]})", R"({"kind":"gpt","vocab":256})"}) {
    try {
      model_spec_from_json(nlohmann::json::parse(text));
      FAIL() << text;
    } catch (const Error& e) {
      EXPECT_EQ(e.exit_code(), 2) << e.what();
    }
  }
}

}  // namespace paraxis
