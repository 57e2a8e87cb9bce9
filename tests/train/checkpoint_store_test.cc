// The pieces of the checkpoint commit protocol (train/checkpoint_store.h): strict counts, step directory
// names and listing, checksums, and the fault hook's matching.
#include "train/checkpoint_store.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace paraxis {
namespace {

namespace fs = std::filesystem;

TEST(CheckpointStore, ParseCountIsStrict) {
  EXPECT_EQ(parse_count("0"), 0);
  EXPECT_EQ(parse_count("120"), 120);
  EXPECT_FALSE(parse_count("-5"));
  EXPECT_FALSE(parse_count("15abc"));
  EXPECT_FALSE(parse_count(""));
  EXPECT_FALSE(parse_count(" 3"));
  EXPECT_FALSE(parse_count("9999999999999999999999"));
}

TEST(CheckpointStore, StepDirectoriesNewestFirst) {
  const fs::path dir = fs::temp_directory_path() / ("px_steps." + std::to_string(::getpid()));
  fs::remove_all(dir);
  for (const char* name : {"step-000004", "step-000012", "step-000008", "step-00x", "other"})
    fs::create_directories(dir / name);
  std::ofstream(dir / "step-000020");  // a file, not a step directory
  EXPECT_EQ(step_dir_name(12), "step-000012");
  EXPECT_EQ(list_step_dirs(dir.string()), (std::vector<int64_t>{12, 8, 4}));
  fs::remove_all(dir);
}

TEST(CheckpointStore, ChecksumIsZlibCrc32) {
  const fs::path file = fs::temp_directory_path() / ("px_crc." + std::to_string(::getpid()));
  write_file_atomically(file.string(), "123456789");
  const CheckpointManifest::File f = file_checksum(file.string());
  EXPECT_EQ(f.bytes, 9);
  EXPECT_EQ(f.crc32, 0xCBF43926u);  // the CRC-32 check value of "123456789"
  fs::remove(file);
}

TEST(CheckpointStore, FaultMatchesPointAndStep) {
  ::setenv("PARAXIS_FAULT", "ckpt:after-manifest@8", 1);
  EXPECT_TRUE(fault_requested("after-manifest", 8));
  EXPECT_FALSE(fault_requested("after-manifest", 4));
  EXPECT_FALSE(fault_requested("after-latest", 8));
  ::setenv("PARAXIS_FAULT", "ckpt:after-latest", 1);
  EXPECT_TRUE(fault_requested("after-latest", 3));
  ::unsetenv("PARAXIS_FAULT");
  EXPECT_FALSE(fault_requested("after-latest", 3));
}

}  // namespace
}  // namespace paraxis
