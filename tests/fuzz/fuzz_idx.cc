// read_idx (data/idx.h): --data idx:IMAGES,LABELS and Fashion-MNIST. The bytes as the file holds them, plain
// IDX or a gzip stream (read as gzip by its magic): mutations reach the gunzip and the IDX header checks.
#include "fuzz_support.h"
#include "paraxis/data/idx.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return fuzz::expect_user_errors([&] { paraxis::read_idx(fuzz::write_input("input-idx", data, size)); });
}
