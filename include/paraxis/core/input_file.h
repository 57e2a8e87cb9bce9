// paraxis/core/input_file.h — the one check before paraxis opens a file it reads.
//
//   check_input_file("--machine", path);   // exit 2 unless path is a regular file (or a link to one)
//
// A directory is named as a directory, not "no such file"; a FIFO, device or socket is refused before it is
// opened (opening a FIFO blocks until a writer comes, which looked like a hang).
#pragma once

#include <string>

namespace paraxis {

void check_input_file(const std::string& what, const std::string& path);

}  // namespace paraxis
