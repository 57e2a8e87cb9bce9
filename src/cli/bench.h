// `paraxis bench <what>`: one CLI11 subcommand with nested benchmarks. Each benchmark lives in its own file
// and registers itself here, the way top-level commands register with command.h:
//
//   static const bool registered = paraxis::cli::register_bench({"step", "Time one training step",
//       [](CLI::App& sub) { /* add options */ return [] { ...; return 0; }; }});
//
// `paraxis bench comm` (bench_comm.cc) is the first; `paraxis bench step` and others are added the same way.
#pragma once

#include "cli/command.h"

namespace paraxis::cli {

bool register_bench(Command c);
std::vector<Command>& bench_commands();

}  // namespace paraxis::cli
