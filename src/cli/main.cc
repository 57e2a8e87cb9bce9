#include <fmt/format.h>
#include <csignal>
#include <cstdio>

#include "cli/command.h"
#include "paraxis/core/error.h"

namespace paraxis::cli {

std::vector<Command>& commands() {
  static std::vector<Command> c;
  return c;
}
bool register_command(Command c) {
  commands().push_back(std::move(c));
  return true;
}

}  // namespace paraxis::cli

int main(int argc, char** argv) {
  using namespace paraxis;
  // A file-size limit (ulimit -f) must fail the write with EFBIG, reported, not kill the process silently.
  std::signal(SIGXFSZ, SIG_IGN);
  CLI::App app{
      "paraxis — parallel training you can see: data, tensor, pipeline and placement on a device grid"};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Print help for every subcommand");
  std::vector<std::pair<CLI::App*, cli::Runner>> runners;
  for (auto& cmd : cli::commands()) {
    CLI::App* sub = app.add_subcommand(cmd.name, cmd.help);
    runners.emplace_back(sub, cmd.setup(*sub));
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // Usage errors are bad input: one message, exit code 2.
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  } catch (const Error& e) {
    fmt::print(stderr, "paraxis: error: {}\n", e.what());
    return e.exit_code();
  }
  for (auto& [sub, run] : runners) {
    if (!sub->parsed()) continue;
    try {
      return run();
    } catch (const Error& e) {
      fmt::print(stderr, "paraxis: error: {}\n", e.what());
      return e.exit_code();
    } catch (const std::exception& e) {
      fmt::print(stderr, "paraxis: internal error: {}\n", e.what());
      return 1;
    }
  }
  return 0;
}
