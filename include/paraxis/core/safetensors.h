// paraxis/core/safetensors.h — read and write the safetensors format (F32 and I32 tensors).
//
//   write_safetensors("ckpt.safetensors", {{"fc1.weight", w}, {"fc1.bias", b}}, {{"step", "100"}});
//   SafetensorsFile f = read_safetensors("ckpt.safetensors");
//   Tensor w2 = f.tensors.at("fc1.weight");             // (out, in) f32
//
// Model parameters to and from these files (by their PyTorch names): nn/param_io.h.
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

namespace paraxis {

struct SafetensorsFile {
  std::map<std::string, Tensor> tensors;
  std::map<std::string, std::string> metadata;  // the optional "__metadata__" object
};

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

SafetensorsFile read_safetensors(const std::string& path);
void write_safetensors(const std::string& path, const NamedTensors& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace paraxis
