// Seeded byte mutations of a valid file: a parser must give success or a user error (exit 2) for each, never
// crash, never throw anything else (the deterministic cousin of the libFuzzer harnesses).
//
//   for (uint32_t seed = 0; seed < 300; ++seed)
//     expect_success_or_user_error([&] { parse_idx(mutate(valid, seed), "m"); }, seed);
#pragma once

#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "paraxis/core/error.h"

namespace paraxis::testing {

// A path in the temporary directory, unique to this process (the mutated files are rewritten in place).
inline std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / (name + "." + std::to_string(::getpid()))).string();
}

// A file's bytes (the valid file a test mutates).
inline std::vector<uint8_t> raw_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// One to four edits: flip a byte, set one to a value parsers care about, truncate, insert, duplicate a span.
inline std::vector<uint8_t> mutate(std::vector<uint8_t> b, uint32_t seed) {
  std::mt19937 rng(seed);
  static const uint8_t kSpecial[] = {0, 0xff, 0x7f, 0x80, '[', '{', '"', '9', '-', ',', ':', 'e'};
  auto pick = [&](size_t n) { return n == 0 ? size_t{0} : static_cast<size_t>(rng() % n); };
  for (int edits = 1 + static_cast<int>(rng() % 4); edits > 0; --edits) {
    switch (rng() % 5) {
      case 0:
        if (!b.empty()) b[pick(b.size())] ^= static_cast<uint8_t>(1u << (rng() % 8));
        break;
      case 1:
        if (!b.empty()) b[pick(b.size())] = kSpecial[rng() % sizeof kSpecial];
        break;
      case 2:
        b.resize(pick(b.size() + 1));
        break;
      case 3:
        b.insert(b.begin() + static_cast<std::ptrdiff_t>(pick(b.size() + 1)), 1 + rng() % 8,
                 static_cast<uint8_t>(rng()));
        break;
      default: {
        const size_t at = pick(b.size()), len = std::min<size_t>(pick(64) + 1, b.size() - at);
        std::vector<uint8_t> span(b.begin() + static_cast<std::ptrdiff_t>(at),
                                  b.begin() + static_cast<std::ptrdiff_t>(at + len));
        b.insert(b.begin() + static_cast<std::ptrdiff_t>(pick(b.size() + 1)), span.begin(), span.end());
      }
    }
  }
  return b;
}

// Counts what the mutations gave, for the test's log line.
struct MutationTally {
  int ok = 0, user_errors = 0;
};

template <class F>
void expect_success_or_user_error(F parse, uint32_t seed, MutationTally& tally) {
  try {
    parse();
    ++tally.ok;
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kUser) << "mutation " << seed << ": " << e.what();
    ++tally.user_errors;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "mutation " << seed << " threw a non-paraxis exception: " << e.what();
  }
}

}  // namespace paraxis::testing
