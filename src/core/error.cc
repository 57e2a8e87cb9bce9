#include "paraxis/core/error.h"

#include <cstring>

namespace paraxis {

namespace {
thread_local int tl_device = -1;
}

void set_current_device(int device) {
  tl_device = device;
}
int current_device() {
  return tl_device;
}

namespace detail {
void throw_error(ErrorKind kind, const char* file, int line, const std::string& msg) {
  std::string out;
  if (tl_device >= 0) out += fmt::format("[device {}] ", tl_device);
  out += msg;
  if (kind != ErrorKind::kUser) {
    const char* base = std::strrchr(file, '/');
    out += fmt::format(" ({}:{})", base ? base + 1 : file, line);
  }
  throw Error(kind, out);
}
}  // namespace detail

}  // namespace paraxis
