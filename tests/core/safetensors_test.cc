#include "paraxis/core/safetensors.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "paraxis/core/error.h"
#include "test_support/paths.h"
#include "test_support/temp_file.h"
#include "test_support/user_error.h"

using namespace paraxis;

namespace {

using paraxis::testing::TempFile;

// Writes a file by hand: the 8-byte length (given or the header's own), the header text, then `data`.
void write_raw(const std::string& path, const std::string& header, const std::string& data,
               int64_t length_field = -1) {
  uint64_t n = length_field < 0 ? header.size() : static_cast<uint64_t>(length_field);
  std::ofstream out(path, std::ios::binary);
  for (int i = 0; i < 8; ++i) out.put(static_cast<char>(n >> (8 * i)));
  out << header << data;
}

// Reads `path` expecting a user error whose message contains every fragment.
void expect_user_error(const std::string& path, const std::vector<std::string>& fragments) {
  EXPECT_USER_ERROR(read_safetensors(path), path, fragments);  // the message names the file
}

std::string bytes(size_t n) {
  return std::string(n, '\x01');
}

}  // namespace

TEST(Safetensors, RoundTripKeepsValuesShapesDtypesAndMetadata) {
  TempFile f("roundtrip");
  Tensor w    = Tensor::from_vector({2, 3}, {1, -2, 3.5f, 4, 5e-8f, -6});
  Tensor ids  = Tensor::from_ints({3}, {7, -1, 2147483647});
  Tensor s    = Tensor::from_vector({}, {0.25f});
  Tensor none = Tensor::zeros({0, 4});
  write_safetensors(f.path(), {{"z.w", w}, {"a.ids", ids}, {"m.scalar", s}, {"e.none", none}},
                    {{"step", "12"}, {"magic", "paraxis"}});
  SafetensorsFile r = read_safetensors(f.path());
  ASSERT_EQ(r.tensors.size(), 4u);
  EXPECT_EQ(r.tensors.at("z.w").shape(), (Shape{2, 3}));
  EXPECT_EQ(r.tensors.at("z.w").to_vector(), w.to_vector());
  EXPECT_EQ(r.tensors.at("a.ids").dtype(), DType::kI32);
  EXPECT_EQ(r.tensors.at("a.ids").data_i32()[2], 2147483647);
  EXPECT_EQ(r.tensors.at("m.scalar").shape(), Shape{});
  EXPECT_EQ(r.tensors.at("m.scalar").data()[0], 0.25f);
  EXPECT_EQ(r.tensors.at("e.none").shape(), (Shape{0, 4}));
  EXPECT_EQ(r.metadata.at("step"), "12");
  EXPECT_EQ(r.metadata.at("magic"), "paraxis");
  EXPECT_FALSE(std::filesystem::exists(f.path() + ".tmp." + std::to_string(::getpid())));
}

TEST(Safetensors, WriterSortsNamesAlignsHeaderAndPacksFromZero) {
  TempFile f("layout");
  write_safetensors(f.path(), {{"b", Tensor::zeros({3})}, {"a", Tensor::zeros({2, 2})}});
  std::ifstream in(f.path(), std::ios::binary);
  unsigned char len[8];
  in.read(reinterpret_cast<char*>(len), 8);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | len[i];
  EXPECT_EQ(n % 8, 0u);
  std::string header(n, '\0');
  in.read(header.data(), static_cast<std::streamsize>(n));
  EXPECT_EQ(header.rfind("{\"a\":{\"data_offsets\":[0,16]", 0), 0u) << header;
  EXPECT_NE(header.find("\"b\":{\"data_offsets\":[16,28]"), std::string::npos) << header;
  EXPECT_EQ(std::filesystem::file_size(f.path()), 8 + n + 28);
}

TEST(Safetensors, WriteReplacesAnExistingFile) {
  TempFile f("replace");
  write_safetensors(f.path(), {{"x", Tensor::full({100}, 1)}});
  write_safetensors(f.path(), {{"y", Tensor::full({2}, 2)}});
  SafetensorsFile r = read_safetensors(f.path());
  ASSERT_EQ(r.tensors.size(), 1u);
  EXPECT_EQ(r.tensors.at("y").to_vector(), (std::vector<float>{2, 2}));
}

TEST(Safetensors, WriteRejectsDuplicateNames) {
  TempFile f("dup");
  EXPECT_THROW(write_safetensors(f.path(), {{"x", Tensor::zeros({1})}, {"x", Tensor::zeros({1})}}), Error);
}

TEST(Safetensors, WriteIntoMissingDirectoryIsAUserError) {
  try {
    write_safetensors("/nonexistent-dir-paraxis/x.safetensors", {{"x", Tensor::zeros({1})}});
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.exit_code(), 2);
    EXPECT_NE(std::string(e.what()).find("directory exists"), std::string::npos) << e.what();
  }
}

TEST(SafetensorsMalformed, MissingFile) {
  expect_user_error("/nonexistent-paraxis.safetensors", {"no such file"});
}

TEST(SafetensorsMalformed, ShorterThanEightBytes) {
  TempFile f("short");
  std::ofstream(f.path(), std::ios::binary) << "abc";
  expect_user_error(f.path(), {"3 bytes", "shorter than the 8-byte header length"});
}

TEST(SafetensorsMalformed, HeaderLengthLargerThanFile) {
  TempFile f("hugelen");
  write_raw(f.path(), "{}", "", /*length_field=*/1000);
  expect_user_error(f.path(), {"header length 1000", "larger than the 2 bytes"});
}

TEST(SafetensorsMalformed, BadJson) {
  TempFile f("badjson");
  write_raw(f.path(), "{\"x\": {\"dtype\": ", "");
  expect_user_error(f.path(), {"not valid JSON"});
}

TEST(SafetensorsMalformed, HeaderNotAnObject) {
  TempFile f("array");
  write_raw(f.path(), "[1, 2]", "");
  expect_user_error(f.path(), {"header is a JSON array"});
}

TEST(SafetensorsMalformed, EntryNotAnObject) {
  TempFile f("entry");
  write_raw(f.path(), R"({"fc1.weight": [0, 4]})", "");
  expect_user_error(f.path(), {"'fc1.weight'", "header entry is array"});
}

TEST(SafetensorsMalformed, UnknownDtype) {
  TempFile f("dtype");
  write_raw(f.path(), R"({"w": {"dtype": "F16", "shape": [2], "data_offsets": [0, 4]}})", bytes(4));
  expect_user_error(f.path(), {"'w'", "unsupported dtype F16", "F32 and I32"});
}

TEST(SafetensorsMalformed, MissingShape) {
  TempFile f("noshape");
  write_raw(f.path(), R"({"w": {"dtype": "F32", "data_offsets": [0, 4]}})", bytes(4));
  expect_user_error(f.path(), {"'w'", "\"shape\""});
}

TEST(SafetensorsMalformed, NegativeDimension) {
  TempFile f("negdim");
  write_raw(f.path(), R"({"w": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}})", bytes(4));
  expect_user_error(f.path(), {"'w'", "shape entry -1"});
}

TEST(SafetensorsMalformed, MalformedOffsets) {
  TempFile f("offs");
  write_raw(f.path(), R"({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0]}})", bytes(4));
  expect_user_error(f.path(), {"'w'", "data_offsets", "[begin, end]"});
}

TEST(SafetensorsMalformed, OffsetsEndBeforeBegin) {
  TempFile f("reversed");
  write_raw(f.path(), R"({"w": {"dtype": "F32", "shape": [0], "data_offsets": [4, 0]}})", bytes(4));
  expect_user_error(f.path(), {"'w'", "end before they begin"});
}

TEST(SafetensorsMalformed, ShapeSizeMismatch) {
  TempFile f("size");
  write_raw(f.path(), R"({"w": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 20]}})", bytes(20));
  expect_user_error(f.path(), {"'w'", "shape (2, 3)", "needs 24 bytes", "hold 20"});
}

TEST(SafetensorsMalformed, ShapeProductOverflows) {
  TempFile f("overflow");
  write_raw(f.path(),
            R"({"w": {"dtype": "F32", "shape": [4294967296, 4294967296, 16], "data_offsets": [0, 0]}})", "");
  expect_user_error(f.path(), {"'w'", "overflows"});
}

// Checked in from the fuzz harness (tests/fuzz/regressions): (2^63-1, 2, 0) holds no element, but its sizes
// multiplied in order overflowed int64 (UBSan) before the 0 made the count 0.
TEST(SafetensorsMalformed, ShapeOverflowsBeforeAZeroSize) {
  expect_user_error(paraxis::testing::source_dir() +
                        "/tests/fuzz/regressions/safetensors/shape-overflows-before-a-zero.safetensors",
                    {"'x'", "overflows"});
}

TEST(SafetensorsMalformed, OffsetsNotFromZero) {
  TempFile f("gapstart");
  write_raw(f.path(), R"({"w": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}})", bytes(8));
  expect_user_error(f.path(), {"'w'", "leave a gap", "contiguous from 0"});
}

TEST(SafetensorsMalformed, OffsetsWithGap) {
  TempFile f("gap");
  write_raw(f.path(),
            R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
                "b": {"dtype": "F32", "shape": [1], "data_offsets": [8, 12]}})",
            bytes(12));
  expect_user_error(f.path(), {"'b'", "leave a gap", "ends at 4"});
}

TEST(SafetensorsMalformed, OverlappingTensors) {
  TempFile f("overlap");
  write_raw(f.path(),
            R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}})",
            bytes(12));
  expect_user_error(f.path(), {"'b'", "overlap tensor 'a'"});
}

TEST(SafetensorsMalformed, OffsetsOutOfBuffer) {
  TempFile f("truncated");
  write_raw(f.path(), R"({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}})", bytes(10));
  expect_user_error(f.path(), {"'w'", "run past the end of the 10-byte data buffer"});
}

TEST(SafetensorsMalformed, TrailingBytesNotCovered) {
  TempFile f("trailing");
  write_raw(f.path(), R"({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}})", bytes(7));
  expect_user_error(f.path(), {"3 trailing bytes not covered"});
}

TEST(SafetensorsMalformed, MetadataNotStrings) {
  TempFile f("meta");
  write_raw(f.path(), R"({"__metadata__": {"version": 1}})", "");
  expect_user_error(f.path(), {"\"__metadata__\" entry 'version'", "expected a string"});
}

TEST(SafetensorsReference, ReadsFileWrittenByPython) {
  // Written by tests/golden/make_reference_safetensors.py with struct + json only.
  SafetensorsFile r =
      read_safetensors(paraxis::testing::source_dir() + "/tests/golden/reference_small.safetensors");
  ASSERT_EQ(r.tensors.size(), 4u);
  const Tensor& m = r.tensors.at("b.matrix");
  EXPECT_EQ(m.shape(), (Shape{2, 3}));
  EXPECT_EQ(m.to_vector(), (std::vector<float>{-1, -0.5f, 0, 0.5f, 1, 1.5f}));
  const Tensor& ids = r.tensors.at("a.ids");
  ASSERT_EQ(ids.dtype(), DType::kI32);
  EXPECT_EQ(std::vector<int32_t>(ids.data_i32(), ids.data_i32() + 4),
            (std::vector<int32_t>{7, -1, 0, 2147483647}));
  EXPECT_EQ(r.tensors.at("c.scalar").shape(), Shape{});
  EXPECT_EQ(r.tensors.at("c.scalar").data()[0], 3.25f);
  EXPECT_EQ(r.tensors.at("d.empty").shape(), (Shape{0, 5}));
  EXPECT_EQ(r.metadata.at("writer"), "make_reference_safetensors.py");
}

TEST(SafetensorsMalformed, CorruptedAndTruncatedFilesNeverCrash) {
  // Every truncation and a spread of single-byte corruptions of a valid file: each must read or throw a user
  // error — never crash, never another exception type.
  TempFile good("fuzz_src");
  write_safetensors(
      good.path(),
      {{"w", Tensor::from_vector({2, 2}, {1, 2, 3, 4})}, {"ids", Tensor::from_ints({2}, {5, 6})}},
      {{"k", "v"}});
  std::ifstream in(good.path(), std::ios::binary);
  std::string original((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  TempFile bad("fuzz");
  auto try_read = [&](const std::string& bytes, const std::string& what) {
    std::ofstream(bad.path(), std::ios::binary | std::ios::trunc) << bytes;
    try {
      read_safetensors(bad.path());
    } catch (const Error& e) {
      EXPECT_EQ(e.exit_code(), 2) << what << ": " << e.what();
    }
  };
  for (size_t n = 0; n < original.size(); ++n)
    try_read(original.substr(0, n), "truncated to " + std::to_string(n));
  const char replacements[] = {'\0', '\xff', '9', '-', '"', '}', ' ', 'x'};
  for (size_t i = 0; i < original.size(); ++i) {
    std::string bytes = original;
    bytes[i]          = replacements[i % sizeof(replacements)];
    try_read(bytes, "byte " + std::to_string(i));
  }
}
