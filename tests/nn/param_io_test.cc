// load_params / save_params (nn/param_io.h): parameters through safetensors files by name, shards taking
// their slice, and the user errors of a mismatched file.
#include "paraxis/nn/param_io.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "paraxis/core/error.h"
#include "test_support/temp_file.h"

using namespace paraxis;

namespace {

using paraxis::testing::TempFile;

}  // namespace

TEST(SafetensorsParams, SaveThenLoadByName) {
  TempFile f("params");
  Param w = make_param("fc1.weight", {2, 3});
  Param b = make_param("fc1.bias", {2});
  w.value.copy_from(Tensor::from_vector({2, 3}, {1, 2, 3, 4, 5, 6}));
  b.value.copy_from(Tensor::from_vector({2}, {-1, -2}));
  save_params(f.path(), {&w, &b}, {{"model", "test"}});
  Param w2 = make_param("fc1.weight", {2, 3});
  Param b2 = make_param("fc1.bias", {2});
  load_params(read_safetensors(f.path()), {&b2, &w2}, f.path());
  EXPECT_EQ(w2.value.to_vector(), w.value.to_vector());
  EXPECT_EQ(b2.value.to_vector(), b.value.to_vector());
}

TEST(SafetensorsParams, ShardTakesItsSliceOfTheFullTensor) {
  SafetensorsFile file;
  file.tensors["w"] = Tensor::from_vector({2, 4}, {0, 1, 2, 3, 4, 5, 6, 7});
  Param shard       = make_param("w", {2, 2});  // columns 2..3 of a (2, 4) weight
  shard.full_shape  = {2, 4};
  shard.shard_dim   = 1;
  shard.shard_begin = 2;
  load_params(file, {&shard}, "mem");
  EXPECT_EQ(shard.value.to_vector(), (std::vector<float>{2, 3, 6, 7}));
}

namespace {
void expect_load_error(const SafetensorsFile& file, std::vector<Param*> params, ExtraTensors extra,
                       const std::vector<std::string>& fragments) {
  try {
    load_params(file, params, "ckpt.safetensors", extra);
    FAIL() << "load_params accepted a mismatched file";
  } catch (const Error& e) {
    EXPECT_EQ(e.exit_code(), 2);
    std::string msg = e.what();
    EXPECT_NE(msg.find("ckpt.safetensors"), std::string::npos) << msg;
    for (const auto& f : fragments)
      EXPECT_NE(msg.find(f), std::string::npos) << "missing '" << f << "' in: " << msg;
  }
}
}  // namespace

TEST(SafetensorsParams, MissingParameterIsAUserError) {
  SafetensorsFile file;
  file.tensors["fc1.weight"] = Tensor::zeros({2, 3});
  Param w                    = make_param("fc1.weight", {2, 3});
  Param b                    = make_param("fc1.bias", {2});
  expect_load_error(file, {&w, &b}, ExtraTensors::kError, {"'fc1.bias' (2)", "missing"});
}

TEST(SafetensorsParams, UnexpectedTensorIsAUserErrorUnlessIgnored) {
  SafetensorsFile file;
  file.tensors["fc1.weight"] = Tensor::zeros({2, 3});
  file.tensors["fc9.weight"] = Tensor::zeros({1});
  Param w                    = make_param("fc1.weight", {2, 3});
  expect_load_error(file, {&w}, ExtraTensors::kError, {"'fc9.weight'", "matches no parameter"});
  EXPECT_NO_THROW(load_params(file, {&w}, "ckpt.safetensors", ExtraTensors::kIgnore));
}

TEST(SafetensorsParams, ShapeMismatchNamesBothShapes) {
  SafetensorsFile file;
  file.tensors["fc1.weight"] = Tensor::zeros({2, 4});
  Param w                    = make_param("fc1.weight", {2, 3});
  expect_load_error(file, {&w}, ExtraTensors::kError,
                    {"'fc1.weight'", "(2, 4) in the file", "expects (2, 3)"});
}

TEST(SafetensorsParams, DtypeMismatchIsAUserError) {
  SafetensorsFile file;
  file.tensors["fc1.bias"] = Tensor::from_ints({2}, {1, 2});
  Param b                  = make_param("fc1.bias", {2});
  expect_load_error(file, {&b}, ExtraTensors::kError, {"'fc1.bias' is I32", "expects F32"});
}
