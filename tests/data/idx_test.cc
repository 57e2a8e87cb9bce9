// IDX parsing: round trips through gzip and plain files, and every damaged-file case is a clear user error.
#include "paraxis/data/idx.h"

#include <gtest/gtest.h>

#include <unistd.h>
#include <filesystem>
#include <fstream>

#include "paraxis/core/error.h"
#include "paraxis/data/sources.h"
#include "test_support/user_error.h"

using namespace paraxis;
namespace fs = std::filesystem;

namespace {
struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() / ("paraxis_idx_test_" + std::to_string(::getpid()));
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
  std::string file(const std::string& name) const { return (path / name).string(); }
};

std::vector<uint8_t> header(uint8_t type, std::vector<uint32_t> dims) {
  std::vector<uint8_t> b = {0, 0, type, static_cast<uint8_t>(dims.size())};
  for (uint32_t d : dims)
    for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<uint8_t>(d >> s));
  return b;
}

using ::paraxis::testing::expect_user_error;
}  // namespace

TEST(Idx, RoundTripsGzipAndPlain) {
  TempDir dir;
  std::vector<uint8_t> pixels(2 * 3 * 4);
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<uint8_t>(i * 11);
  for (bool gz : {false, true}) {
    std::string path = dir.file(gz ? "x.gz" : "x");
    write_idx(path, {2, 3, 4}, pixels, gz);
    std::vector<uint8_t> raw;
    {
      std::ifstream f(path, std::ios::binary);
      raw.assign(std::istreambuf_iterator<char>(f), {});
    }
    EXPECT_EQ(raw[0] == 0x1f && raw[1] == 0x8b, gz);  // really compressed (or really not)
    IdxArray a = read_idx(path);
    EXPECT_EQ(a.dims, (Shape{2, 3, 4}));
    EXPECT_EQ(a.data, pixels);
  }
}

TEST(Idx, ClassificationPairScalesPixelsAndPairsLabels) {
  TempDir dir;
  write_idx(dir.file("img.gz"), {3, 2, 2}, {0, 255, 51, 102, 1, 2, 3, 4, 5, 6, 7, 8}, true);
  write_idx(dir.file("lab"), {3}, {2, 0, 1}, false);
  ClassificationDataset d = load_idx_classification(dir.file("img.gz"), dir.file("lab"));
  EXPECT_EQ(d.size(), 3);
  EXPECT_EQ(d.sample_shape(), (Shape{4}));
  EXPECT_EQ(d.num_classes(), 3);
  EXPECT_EQ(d.features().data()[1], 1.0f);
  EXPECT_EQ(d.features().data()[2], 51.0f / 255.0f);
  EXPECT_EQ(d.labels().data_i32()[0], 2);
  ClassificationDataset img = load_idx_classification(dir.file("img.gz"), dir.file("lab"), /*images=*/true);
  EXPECT_EQ(img.features().shape(), (Shape{3, 1, 2, 2}));
}

TEST(Idx, WrongMagicIsNamed) {
  TempDir dir;
  std::vector<uint8_t> b = {0x50, 0x4b, 0x03, 0x04, 0, 0, 0, 0};  // a zip file
  write_file_bytes(dir.file("zip"), b, false);
  expect_user_error([&] { read_idx(dir.file("zip")); }, {"not an IDX file", "0x504b0304", dir.file("zip")});
  std::vector<uint8_t> floats = header(0x0D, {1});  // float32 IDX
  floats.resize(floats.size() + 4);
  write_file_bytes(dir.file("float"), floats, true);
  expect_user_error([&] { read_idx(dir.file("float")); }, {"element type 0x0d", "unsigned bytes"});
}

TEST(Idx, TruncatedAndTrailingDataAreNamed) {
  TempDir dir;
  std::vector<uint8_t> b = header(0x08, {10, 28, 28});
  b.resize(b.size() + 10 * 28 * 28 - 1);  // one byte short
  write_file_bytes(dir.file("short.gz"), b, true);
  expect_user_error([&] { read_idx(dir.file("short.gz")); },
                    {"(10, 28, 28)", "7840 data bytes", "7839", "truncated"});
  b.resize(b.size() + 2);  // one byte too many
  write_file_bytes(dir.file("long"), b, false);
  expect_user_error([&] { read_idx(dir.file("long")); }, {"trailing bytes"});
  std::vector<uint8_t> h = header(0x08, {1, 2, 3});
  h.resize(9);  // header cut inside the dimensions
  write_file_bytes(dir.file("hdr"), h, false);
  expect_user_error([&] { read_idx(dir.file("hdr")); }, {"truncated", "16-byte header"});
  // Huge dimensions must not overflow into a small expected size.
  write_file_bytes(dir.file("huge"), header(0x08, {0xffffffffu, 0xffffffffu, 0xffffffffu, 16}), false);
  expect_user_error([&] { read_idx(dir.file("huge")); }, {"truncated"});
}

TEST(Idx, TruncatedGzipStreamIsNamed) {
  TempDir dir;
  std::vector<uint8_t> pixels(5000);
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<uint8_t>((i * 7919) >> 3);
  write_idx(dir.file("x.gz"), {5000}, pixels, true);
  std::vector<uint8_t> gz;
  {
    std::ifstream f(dir.file("x.gz"), std::ios::binary);
    gz.assign(std::istreambuf_iterator<char>(f), {});
  }
  gz.resize(gz.size() / 2);
  write_file_bytes(dir.file("cut.gz"), gz, false);
  expect_user_error([&] { read_idx(dir.file("cut.gz")); }, {"truncated or corrupt gzip", dir.file("cut.gz")});
}

TEST(Idx, DimensionMismatchBetweenImagesAndLabels) {
  TempDir dir;
  write_idx(dir.file("img"), {3, 2, 2}, std::vector<uint8_t>(12), false);
  write_idx(dir.file("lab"), {4}, {0, 1, 0, 1}, false);
  expect_user_error([&] { load_idx_classification(dir.file("img"), dir.file("lab")); },
                    {"3 samples", "4 labels"});
  write_idx(dir.file("lab2d"), {3, 1}, {0, 1, 0}, false);
  expect_user_error([&] { load_idx_classification(dir.file("img"), dir.file("lab2d")); },
                    {"labels must be one-dimensional", "(3, 1)"});
  write_idx(dir.file("feat"), {3, 4}, std::vector<uint8_t>(12), false);
  write_idx(dir.file("lab3"), {3}, {0, 1, 0}, false);
  expect_user_error([&] { load_idx_classification(dir.file("feat"), dir.file("lab3"), /*images=*/true); },
                    {"(N, 1, H, W)"});
}

TEST(Idx, MissingFileIsAUserError) {
  expect_user_error([] { read_idx("/nonexistent/paraxis/x.idx"); },
                    {"no such file", "/nonexistent/paraxis/x.idx"});
  expect_user_error([] { load_fashion_mnist("train", false, "/nonexistent/paraxis"); },
                    {"install the Debian package dataset-fashion-mnist (scripts/install-deps)"});
  expect_user_error([] { load_fashion_mnist("validation"); }, {"use train or test"});
}
