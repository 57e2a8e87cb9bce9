// Hostile safetensors input: seeded mutations of a valid file give tensors or a user error, never a crash; a
// header nested a million levels deep and a NaN parameter are user errors.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "paraxis/core/json_read.h"
#include "paraxis/core/safetensors.h"
#include "test_support/mutate.h"
#include "test_support/user_error.h"

using namespace paraxis;
using namespace paraxis::testing;
namespace fs = std::filesystem;

namespace {

void put_bytes(const std::string& path, const std::vector<uint8_t>& b) {
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

TEST(SafetensorsMutation, MutatedFilesGiveTensorsOrAUserError) {
  const std::string path = temp_path("st_mut.safetensors");
  Tensor w               = Tensor::zeros({3, 4});
  Tensor ids             = Tensor::zeros({5}, DType::kI32);
  write_safetensors(path, {{"w", w}, {"ids", ids}}, {{"step", "7"}});
  const std::vector<uint8_t> valid = raw_bytes(path);
  MutationTally tally;
  for (uint32_t seed = 0; seed < 400; ++seed) {
    put_bytes(path, mutate(valid, seed));
    expect_success_or_user_error([&] { read_safetensors(path); }, seed, tally);
  }
  fs::remove(path);
  std::printf("safetensors: 400 mutations, %d read, %d user errors\n", tally.ok, tally.user_errors);
}

TEST(SafetensorsMutation, ADeeplyNestedHeaderIsAUserError) {
  const std::string path = temp_path("st_deep.safetensors");
  const size_t depth     = 1000000;
  std::string header     = "{\"a\":" + std::string(depth, '[') + std::string(depth, ']') + "}";
  header.append((8 - header.size() % 8) % 8, ' ');
  std::vector<uint8_t> b(8);
  for (int i = 0; i < 8; ++i) b[i] = static_cast<uint8_t>(uint64_t{header.size()} >> (8 * i));
  b.insert(b.end(), header.begin(), header.end());
  put_bytes(path, b);
  EXPECT_USER_ERROR(read_safetensors(path), "nested deeper than");
  fs::remove(path);
}

TEST(JsonRead, DepthIsBoundedAndShallowDocumentsParse) {
  EXPECT_EQ(parse_json_bounded(std::string_view("{\"a\": [1, {\"b\": 2}]}"), "x")["a"][1]["b"], 2);
  const std::string ok = std::string(kMaxJsonDepth, '[') + std::string(kMaxJsonDepth, ']');
  EXPECT_FALSE(parse_json_bounded(std::string_view(ok), "x").is_discarded());
  const std::string deep = std::string(kMaxJsonDepth + 1, '[') + std::string(kMaxJsonDepth + 1, ']');
  EXPECT_USER_ERROR(parse_json_bounded(std::string_view(deep), "doc.json"), "doc.json", "nested deeper");
  EXPECT_TRUE(parse_json_bounded(std::string_view("{\"a\": "), "x").is_discarded());
}

}  // namespace
