// A subcommand's flags from a TOML file: `paraxis train --config run.toml --lr 0.01`.
//
//   sub.add_option("--config", path, "TOML file with the same keys as the flags");
//   ... after CLI11 has parsed the command line:
//   apply_config_file(sub, path);      // keys the command line did not give take the file's values
//
// Keys are the long flag names without dashes (`mlp-sizes = "784,256,10"`, `lr = 0.05`, `shuffle = false`);
// `_` may stand for `-`, a list is joined with commas (`mlp-sizes = [784, 256, 10]`), and a `[train]` table
// of the subcommand's own name is accepted. An unknown key, a value of the wrong type or an unreadable file
// is a user error (exit 2) naming the key. (CLI11 2.1's own set_config reads files only for the top-level
// app, not for subcommands, which is why this exists.)
#pragma once

#include <CLI/CLI.hpp>
#include <string>

namespace paraxis::cli {

void apply_config_file(CLI::App& sub, const std::string& path);

}  // namespace paraxis::cli
