// paraxis/data/idx.h — the IDX file format (LeCun's MNIST format), read defensively, gzip or plain.
//
//   IdxArray images = read_idx("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz");
//   images.dims;   // {60000, 28, 28}
//   images.data;   // 47040000 bytes, row-major
//   write_idx("tiny-labels-idx1-ubyte.gz", {3}, {0, 1, 2}, /*gzip=*/true);   // for tests and tools
//
// Layout: bytes 0-1 zero, byte 2 the element type (only 0x08 = unsigned byte is supported), byte 3 the
// number of dimensions, then each dimension as a big-endian uint32, then the data. Every size is checked
// against the file length. A file is read as gzip when it starts with the gzip magic (1f 8b), whatever its
// name. Errors are paraxis::Error of user kind naming the file and the problem.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "paraxis/core/tensor.h"

namespace paraxis {

struct IdxArray {
  Shape dims;                 // e.g. {60000, 28, 28}
  std::vector<uint8_t> data;  // shape_numel(dims) bytes
};

IdxArray read_idx(const std::string& path);
// Parses IDX bytes already in memory; `what` names the source in error messages.
IdxArray parse_idx(const std::vector<uint8_t>& bytes, const std::string& what);
void write_idx(const std::string& path, const Shape& dims, const std::vector<uint8_t>& data, bool gzip);

// The whole file; gunzipped when it starts with the gzip magic. Missing or unreadable files, truncated or
// corrupt gzip streams are user errors naming the path.
std::vector<uint8_t> read_file_bytes(const std::string& path);
void write_file_bytes(const std::string& path, const std::vector<uint8_t>& bytes, bool gzip);

}  // namespace paraxis
