// load_hardware (cost/hardware.h): `--machine FILE`, the profile `paraxis calibrate -o` writes.
#include "fuzz_support.h"
#include "paraxis/cost/hardware.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return fuzz::expect_user_errors(
      [&] { paraxis::cost::load_hardware(fuzz::write_input("machine.json", data, size)); });
}
