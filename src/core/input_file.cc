#include "paraxis/core/input_file.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "paraxis/core/error.h"

namespace paraxis {

void check_input_file(const std::string& what, const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    PX_USER_CHECK(errno != ENOENT, "{} {}: no such file", what, path);
    PX_USER_FAIL("{} {}: cannot read the file: {}", what, path, std::strerror(errno));
  }
  PX_USER_CHECK(!S_ISDIR(st.st_mode), "{} {}: is a directory; give a file inside it", what, path);
  PX_USER_CHECK(S_ISREG(st.st_mode),
                "{} {}: is not a regular file (a FIFO, device or socket); paraxis reads regular files only; "
                "copy the data into a file and give that",
                what, path);
}

}  // namespace paraxis
