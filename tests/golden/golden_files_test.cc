// Checks the checked-in PyTorch golden files themselves: they parse with our reader, carry the magic and
// version, and hold exactly the tensors golden_test.cc needs under the names docs/model-names.md fixes. This
// runs without any model builder, so a naming slip in make_goldens.py shows up before the models exist.
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "golden/golden_cases.h"
#include "paraxis/core/error.h"
#include "paraxis/core/safetensors.h"
#include "paraxis/nn/param_io.h"

using namespace paraxis;

class GoldenFiles : public ::testing::TestWithParam<golden::Case> {};

TEST_P(GoldenFiles, HaveMagicAndExactlyTheExpectedTensors) {
  const golden::Case& c = GetParam();
  SafetensorsFile f     = read_safetensors(golden::path_of(c));
  EXPECT_EQ(f.metadata.at("magic"), "paraxis-golden");
  EXPECT_EQ(f.metadata.at("version"), "1");
  EXPECT_EQ(f.metadata.at("model"), c.describe);
  EXPECT_EQ(f.metadata.at("labels_dtype"), "I32");

  std::set<std::string> expected = {"input.x", "input.y", "out.logits", "out.loss", "curve.loss"};
  for (const auto& [name, shape] : golden::expected_params(c.spec)) {
    expected.insert(name);
    expected.insert("grad." + name);
    ASSERT_TRUE(f.tensors.count(name)) << name;
    EXPECT_EQ(f.tensors.at(name).shape(), shape) << name;
    EXPECT_EQ(f.tensors.at("grad." + name).shape(), shape) << name;
  }
  std::set<std::string> got;
  for (const auto& [name, t] : f.tensors) got.insert(name);
  EXPECT_EQ(got, expected);

  EXPECT_EQ(f.tensors.at("input.x").shape(), c.input_shape);
  EXPECT_EQ(f.tensors.at("input.x").dtype(), c.input_dtype);
  EXPECT_EQ(f.tensors.at("input.y").shape(), c.label_shape);
  EXPECT_EQ(f.tensors.at("input.y").dtype(), DType::kI32);
  EXPECT_EQ(f.tensors.at("out.logits").shape(), c.logits_shape);
  EXPECT_EQ(f.tensors.at("out.loss").shape(), Shape{1});
  ASSERT_EQ(f.tensors.at("curve.loss").shape(), Shape{10});
  // The curve starts at the recorded loss and SGD lowers it.
  std::vector<float> curve = f.tensors.at("curve.loss").to_vector();
  EXPECT_EQ(curve[0], f.tensors.at("out.loss").data()[0]);
  EXPECT_LT(curve[9], curve[0]);
}

TEST_P(GoldenFiles, LoadIntoParamsByNameIgnoringTheRest) {
  const golden::Case& c = GetParam();
  SafetensorsFile f     = read_safetensors(golden::path_of(c));
  std::vector<Param> storage;
  for (const auto& [name, shape] : golden::expected_params(c.spec))
    storage.push_back(make_param(name, shape));
  std::vector<Param*> params;
  for (Param& p : storage) params.push_back(&p);
  EXPECT_THROW(load_params(f, params, c.file), Error);  // inputs, outputs, grads match no parameter
  load_params(f, params, c.file, ExtraTensors::kIgnore);
  for (const Param* p : params) EXPECT_EQ(p->value.to_vector(), f.tensors.at(p->name).to_vector()) << p->name;
}

INSTANTIATE_TEST_SUITE_P(Models, GoldenFiles, ::testing::ValuesIn(golden::cases()),
                         [](const auto& info) { return info.param.spec.kind; });
