// Subcommand registry: each src/cli/<name>.cc defines one subcommand and registers it with
//
//   static const bool registered = paraxis::cli::register_command({"describe", "Print a model's parameters",
//       [](CLI::App& sub) { /* add options to sub; return a runner */ return [] { ...; return 0; }; }});
//
// main() builds the CLI11 app from the registry, parses, and runs the chosen command. A paraxis::Error thrown
// by the runner becomes its exit code (2 for bad input, 1 for runtime failures) with the message on stderr.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <string>
#include <vector>

namespace paraxis::cli {

using Runner = std::function<int()>;
struct Command {
  std::string name;
  std::string help;
  // Adds the subcommand's options to `sub` and returns what to run once they are parsed.
  std::function<Runner(CLI::App& sub)> setup;
};

bool register_command(Command c);
std::vector<Command>& commands();

}  // namespace paraxis::cli
