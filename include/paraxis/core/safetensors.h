// paraxis/core/safetensors.h — read and write the safetensors format (F32 and I32 tensors).
//
//   write_safetensors("ckpt.safetensors", {{"fc1.weight", w}, {"fc1.bias", b}}, {{"step", "100"}});
//   SafetensorsFile f = read_safetensors("ckpt.safetensors");
//   Tensor w2 = f.tensors.at("fc1.weight");             // (out, in) f32
//   save_params("model.safetensors", model->params());  // every parameter under its PyTorch name
//   load_params(read_safetensors("model.safetensors"), model->params(), "model.safetensors");
//
// Format (https://github.com/huggingface/safetensors): 8-byte little-endian header length N, N bytes of JSON
// {name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {str: str}}, then the byte buffer;
// offsets are relative to the buffer. The writer sorts names, lays tensors out contiguously from offset 0 and
// pads the header with spaces to a multiple of 8 bytes, as the reference implementation does, and replaces
// the file atomically (temporary file, fsync, rename). The reader trusts nothing: every size and offset is
// checked against the file, and a malformed file is a user error (exit 2) naming the file, the tensor and the
// problem.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "paraxis/core/tensor.h"
#include "paraxis/nn/layer.h"

namespace paraxis {

struct SafetensorsFile {
  std::map<std::string, Tensor> tensors;
  std::map<std::string, std::string> metadata;  // the optional "__metadata__" object
};

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

SafetensorsFile read_safetensors(const std::string& path);
void write_safetensors(const std::string& path, const NamedTensors& tensors,
                       const std::map<std::string, std::string>& metadata = {});

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
