// read_safetensors (core/safetensors.h): --init, checkpoints, `paraxis generate`.
#include "fuzz_support.h"
#include "paraxis/core/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return fuzz::expect_user_errors(
      [&] { paraxis::read_safetensors(fuzz::write_input("input.safetensors", data, size)); });
}
