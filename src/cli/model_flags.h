// Model-size flags shared by the subcommands that build a model (describe, train, ...).
//
//   ModelSpec spec;
//   add_model_flags(sub, spec);           // --model mlp|cnn|alexnet|gpt and every size flag, writing into spec
//   ... after parsing:
//   validate_model_spec(spec);            // throws a user error (exit 2) naming the value, rule, alternative
//
// Flags: --model; mlp: --mlp-sizes 784,256,10 (input first, classes last); cnn: --cnn-c1 --cnn-c2 --cnn-fc
// --cnn-kernel --cnn-stride --image C,H,W --classes; alexnet: --image 3,224,224 (down to 3,63,63) --classes --dropout; gpt: --vocab --context --width --heads --layers. Flags of another family are accepted and
// ignored.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "paraxis/nn/model.h"

namespace paraxis::cli {

void add_model_flags(CLI::App& app, ModelSpec& spec);

// "784,256,10" -> {784, 256, 10}; a malformed list is a user error quoting it.
std::vector<int64_t> parse_mlp_sizes(const std::string& text);
// "3,32,32" -> {3, 32, 32} (C, H, W) for --image; anything else is a user error quoting it.
std::vector<int64_t> parse_image(const std::string& text);

// Every rule a spec must satisfy before a model is built: known kind, positive sizes, at least an input and
// an output width for the mlp, width divisible by heads, dropout in [0, 1), and a parameter count that fits
// in memory (kMaxParams).
void validate_model_spec(const ModelSpec& spec);

// Closed-form parameter count, used only to refuse absurd sizes before allocating (the built model's
// num_params() is the authority).
double estimate_num_params(const ModelSpec& spec);
inline constexpr double kMaxParams = 4.0e9;  // 16 GB of float32 weights, more than this machine holds

}  // namespace paraxis::cli
