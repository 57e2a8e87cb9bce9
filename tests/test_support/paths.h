// Where the tests find the repository and the CLI. paths.cc is the one test file compiled with their absolute
// paths (PARAXIS_SOURCE_DIR, PARAXIS_BINARY), so every other test object is the same in any checkout and
// ccache reuses it across worktrees.
#pragma once

#include <string>

namespace paraxis::testing {

std::string source_dir();      // the repository root
std::string paraxis_binary();  // the `paraxis` CLI of this build

}  // namespace paraxis::testing
