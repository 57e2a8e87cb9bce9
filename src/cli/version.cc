#include <fmt/format.h>
#include <dnnl.hpp>

#include "cli/command.h"

namespace {
const bool registered = paraxis::cli::register_command(
    {"version", "Print paraxis's version and the libraries it runs on",
     [](CLI::App&) -> paraxis::cli::Runner {
       return [] {
         const dnnl_version_t* v = dnnl_version();
         fmt::print("paraxis 0.1.0 (oneDNN {}.{}.{}, C++20)\n", v->major, v->minor, v->patch);
         return 0;
       };
     }});
}  // namespace
