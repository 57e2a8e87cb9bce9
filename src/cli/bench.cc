// `paraxis bench`: dispatches to the benchmarks registered in bench.h.
#include "cli/bench.h"

namespace paraxis::cli {

std::vector<Command>& bench_commands() {
  static std::vector<Command> c;
  return c;
}
bool register_bench(Command c) {
  bench_commands().push_back(std::move(c));
  return true;
}

namespace {
const bool registered = register_command(
    {"bench", "Measure a part of paraxis against its peer (comm: collectives; see `paraxis bench --help`)",
     [](CLI::App& app) -> Runner {
       app.require_subcommand(1);
       // Runs after every file's static registration, so the list is complete here.
       auto runners = std::make_shared<std::vector<std::pair<CLI::App*, Runner>>>();
       for (auto& b : bench_commands()) {
         CLI::App* sub = app.add_subcommand(b.name, b.help);
         runners->emplace_back(sub, b.setup(*sub));
       }
       return [runners] {
         for (auto& [sub, run] : *runners)
           if (sub->parsed()) return run();
         return 0;
       };
     }});
}  // namespace

}  // namespace paraxis::cli
