// read_manifest (train/checkpoint_store.h): a checkpoint step directory's manifest.json, read by --resume
// before any device file.
#include "fuzz_support.h"
#include "train/checkpoint_store.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::filesystem::path dir = [] {
    auto d = fuzz::scratch_dir() / "step-000002";
    std::filesystem::create_directories(d);
    return d;
  }();
  fuzz::write_input("step-000002/manifest.json", data, size);
  return fuzz::expect_user_errors([&] { paraxis::read_manifest(dir.string()); });
}
