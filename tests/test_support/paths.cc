#include "test_support/paths.h"

namespace paraxis::testing {

std::string source_dir() {
  return PARAXIS_SOURCE_DIR;
}
std::string paraxis_binary() {
  return PARAXIS_BINARY;
}

}  // namespace paraxis::testing
