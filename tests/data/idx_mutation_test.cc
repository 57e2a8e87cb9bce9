// Hostile IDX input: seeded mutations of valid plain and gzip files, and a gzip whose trailer lies.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "paraxis/data/idx.h"
#include "test_support/mutate.h"
#include "test_support/user_error.h"

using namespace paraxis;
using namespace paraxis::testing;
namespace fs = std::filesystem;

namespace {

std::vector<uint8_t> pixels() {
  std::vector<uint8_t> p(3 * 4 * 4);
  for (size_t i = 0; i < p.size(); ++i) p[i] = static_cast<uint8_t>(i * 7);
  return p;
}

TEST(IdxMutation, PlainAndGzipGiveDataOrAUserError) {
  for (bool gzip : {false, true}) {
    const std::string path = temp_path(gzip ? "idx_mut.gz" : "idx_mut");
    write_idx(path, {3, 4, 4}, pixels(), gzip);
    const std::vector<uint8_t> valid = raw_bytes(path);
    MutationTally tally;
    for (uint32_t seed = 0; seed < 300; ++seed) {
      write_file_bytes(path, mutate(valid, seed), false);
      expect_success_or_user_error([&] { read_idx(path); }, seed, tally);
    }
    fs::remove(path);
    std::printf("IDX %s: 300 mutations, %d read, %d user errors\n", gzip ? "gzip" : "plain", tally.ok,
                tally.user_errors);
  }
}

// A gzip trailer claiming 4 GiB for a few hundred bytes of input: refused from the IDX header's size, not
// after allocating the claimed size.
TEST(IdxMutation, AGzipTrailerClaimingGigabytesIsCappedByTheHeader) {
  const std::string path = temp_path("idx_trailer.gz");
  write_idx(path, {3, 4, 4}, pixels(), true);
  std::vector<uint8_t> b = raw_bytes(path);
  for (size_t i = b.size() - 4; i < b.size(); ++i) b[i] = 0xff;  // ISIZE = 4 GiB - 1
  b.insert(b.end() - 8, 64, 0);  // and garbage before the trailer, so the stream is corrupt too
  write_file_bytes(path, b, false);
  EXPECT_USER_ERROR(read_idx(path), path);
  fs::remove(path);
}

}  // namespace
