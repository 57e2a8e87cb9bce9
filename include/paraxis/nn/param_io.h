// paraxis/nn/param_io.h — model parameters to and from safetensors files, by their PyTorch names.
//
//   save_params("model.safetensors", model->params(), {{"model", spec.describe()}});
//   load_params(read_safetensors("model.safetensors"), model->params(), "model.safetensors");   // strict
//   load_params(file, params, path, ExtraTensors::kIgnore);   // files that hold more than the parameters
//
// The file format itself (tensors by name, no notion of a parameter) is core/safetensors.h.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "paraxis/core/safetensors.h"
#include "paraxis/nn/layer.h"

namespace paraxis {

// What load_params does with tensors in the file that match no parameter.
enum class ExtraTensors { kError, kIgnore };

// Copies each parameter's values from the tensor of the same name. A parameter that holds a shard (shard_dim
// >= 0) takes its slice of a full-shape tensor. Missing names, unexpected names (with kError), dtype and
// shape mismatches are user errors naming both shapes; `source` names the file in messages.
void load_params(const SafetensorsFile& file, const std::vector<Param*>& params, const std::string& source,
                 ExtraTensors extra = ExtraTensors::kError);
// Writes every parameter's value under its name. Parameters must be whole (not shards).
void save_params(const std::string& path, const std::vector<Param*>& params,
                 const std::map<std::string, std::string>& metadata = {});

}  // namespace paraxis
