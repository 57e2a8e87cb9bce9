// read_idx (data/idx.h) of a gzip file whose stream is always valid: the harness compresses the input with
// write_file_bytes (what write_idx uses), so mutations reach the decompressed IDX (the announced size that
// bounds the output, trailing bytes, concatenated content) instead of dying in inflate.
#include "fuzz_support.h"
#include "paraxis/data/idx.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = (fuzz::scratch_dir() / "input-idx.gz").string();
  paraxis::write_file_bytes(path, std::vector<uint8_t>(data, data + size), /*gzip=*/true);
  return fuzz::expect_user_errors([&] { paraxis::read_idx(path); });
}
