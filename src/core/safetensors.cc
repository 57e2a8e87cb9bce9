#include "paraxis/core/safetensors.h"

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "paraxis/core/error.h"
#include "paraxis/core/input_file.h"
#include "paraxis/core/json_read.h"
#include "paraxis/core/safe_write.h"

namespace paraxis {

static_assert(std::endian::native == std::endian::little, "safetensors I/O assumes a little-endian host");

namespace {

using json = nlohmann::json;

// The reference implementation refuses headers above 100 MB; a larger length is a corrupt file, not a model.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;
constexpr const char* kMetadataKey = "__metadata__";

// Where a tensor's bytes lie, as read from the header, before anything is allocated.
struct Entry {
  std::string name;
  DType dtype;
  Shape shape;
  uint64_t begin = 0, end = 0;
};

bool parse_dtype(const std::string& s, DType& out) {
  if (s == "F32") return out = DType::kF32, true;
  if (s == "I32") return out = DType::kI32, true;
  return false;
}

Entry parse_entry(const std::string& path, const std::string& name, const json& v) {
  PX_USER_CHECK(v.is_object(), "safetensors {}: tensor '{}': header entry is {}, expected an object", path,
                name, v.type_name());
  Entry e;
  e.name = name;
  PX_USER_CHECK(v.contains("dtype") && v["dtype"].is_string(),
                "safetensors {}: tensor '{}': missing or non-string \"dtype\"", path, name);
  std::string dtype = v["dtype"].get<std::string>();
  PX_USER_CHECK(
      parse_dtype(dtype, e.dtype),
      "safetensors {}: tensor '{}': unsupported dtype {}; paraxis reads F32 and I32 (convert the file, "
      "e.g. tensor.float() in PyTorch)",
      path, name, dtype);

  PX_USER_CHECK(v.contains("shape") && v["shape"].is_array(),
                "safetensors {}: tensor '{}': missing or non-array \"shape\"", path, name);
  // The product of the non-zero sizes must fit in int64: shape_numel multiplies the sizes in order, so
  // (2^62, 4, 0) holds no element but would overflow on the way to 0.
  uint64_t extent = 1;
  bool empty      = false;
  for (const json& d : v["shape"]) {
    PX_USER_CHECK(d.is_number_unsigned(),
                  "safetensors {}: tensor '{}': shape entry {} is not a non-negative integer", path, name,
                  d.dump());
    uint64_t n = d.get<uint64_t>();
    empty      = empty || n == 0;
    PX_USER_CHECK(
        n == 0 || (!__builtin_mul_overflow(extent, n, &extent) && extent <= static_cast<uint64_t>(INT64_MAX)),
        "safetensors {}: tensor '{}': shape {} overflows: its sizes multiply past 2^63", path, name,
        v["shape"].dump());
    e.shape.push_back(static_cast<int64_t>(n));
  }
  const uint64_t numel = empty ? 0 : extent;

  const json* offs = v.contains("data_offsets") ? &v["data_offsets"] : nullptr;
  PX_USER_CHECK(
      offs && offs->is_array() && offs->size() == 2 && (*offs)[0].is_number_unsigned() &&
          (*offs)[1].is_number_unsigned(),
      "safetensors {}: tensor '{}': \"data_offsets\" must be [begin, end] of non-negative integers, "
      "got {}",
      path, name, offs ? offs->dump() : "nothing");
  e.begin = (*offs)[0].get<uint64_t>();
  e.end   = (*offs)[1].get<uint64_t>();
  PX_USER_CHECK(e.begin <= e.end, "safetensors {}: tensor '{}': data_offsets [{}, {}] end before they begin",
                path, name, e.begin, e.end);

  uint64_t bytes = 0;
  PX_USER_CHECK(
      !__builtin_mul_overflow(numel, dtype_size(e.dtype), &bytes) && bytes == e.end - e.begin,
      "safetensors {}: tensor '{}': shape {} of {} needs {} bytes but data_offsets [{}, {}] hold {}", path,
      name, shape_str(e.shape), dtype, numel * dtype_size(e.dtype), e.begin, e.end, e.end - e.begin);
  return e;
}

// The tensors must tile the buffer exactly: contiguous from 0, no overlap, no gap, nothing left over.
void check_layout(const std::string& path, std::vector<Entry>& entries, uint64_t buffer_bytes) {
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return std::tie(a.begin, a.end) < std::tie(b.begin, b.end);
  });
  uint64_t expected = 0;
  const Entry* prev = nullptr;
  for (const Entry& e : entries) {
    PX_USER_CHECK(e.end <= buffer_bytes,
                  "safetensors {}: tensor '{}': data_offsets [{}, {}] run past the end of the {}-byte data "
                  "buffer (file truncated?)",
                  path, e.name, e.begin, e.end, buffer_bytes);
    PX_USER_CHECK(e.begin >= expected,
                  "safetensors {}: tensor '{}': data_offsets [{}, {}] overlap tensor '{}' which ends at {}",
                  path, e.name, e.begin, e.end, prev ? prev->name : "", expected);
    PX_USER_CHECK(
        e.begin == expected,
        "safetensors {}: tensor '{}': data_offsets [{}, {}] leave a gap: the previous tensor ends at {} "
        "(offsets must be contiguous from 0)",
        path, e.name, e.begin, e.end, expected);
    expected = e.end;
    prev     = &e;
  }
  PX_USER_CHECK(
      expected == buffer_bytes,
      "safetensors {}: the data buffer has {} trailing bytes not covered by any tensor (tensors end at "
      "{}, buffer is {} bytes)",
      path, buffer_bytes - expected, expected, buffer_bytes);
}

std::map<std::string, std::string> parse_metadata(const std::string& path, const json& v) {
  PX_USER_CHECK(v.is_object(), "safetensors {}: \"__metadata__\" is {}, expected an object of strings", path,
                v.type_name());
  std::map<std::string, std::string> out;
  for (const auto& [key, value] : v.items()) {
    PX_USER_CHECK(value.is_string(), "safetensors {}: \"__metadata__\" entry '{}' is {}, expected a string",
                  path, key, value.type_name());
    out[key] = value.get<std::string>();
  }
  return out;
}

}  // namespace

SafetensorsFile read_safetensors(const std::string& path) {
  check_input_file("safetensors", path);
  std::error_code ec;
  uint64_t file_bytes = std::filesystem::file_size(path, ec);
  PX_USER_CHECK(!ec, "safetensors {}: cannot read the file: {}; check the path", path, ec.message());
  std::ifstream in(path, std::ios::binary);
  PX_USER_CHECK(in.good(), "safetensors {}: cannot open the file; check the path and permissions", path);
  PX_USER_CHECK(
      file_bytes >= 8,
      "safetensors {}: the file is {} bytes, shorter than the 8-byte header length (not a safetensors "
      "file, or truncated)",
      path, file_bytes);

  unsigned char len_bytes[8];
  in.read(reinterpret_cast<char*>(len_bytes), 8);
  uint64_t header_bytes = 0;
  for (int i = 7; i >= 0; --i) header_bytes = (header_bytes << 8) | len_bytes[i];
  PX_USER_CHECK(
      header_bytes <= file_bytes - 8,
      "safetensors {}: header length {} is larger than the {} bytes that follow it (not a safetensors "
      "file, or truncated)",
      path, header_bytes, file_bytes - 8);
  PX_USER_CHECK(header_bytes <= kMaxHeaderBytes, "safetensors {}: header length {} exceeds the {}-byte limit",
                path, header_bytes, kMaxHeaderBytes);

  std::string header(header_bytes, '\0');
  in.read(header.data(), static_cast<std::streamsize>(header_bytes));
  PX_USER_CHECK(in.good(), "safetensors {}: could not read the {}-byte header", path, header_bytes);
  json root = parse_json_bounded(header, fmt::format("safetensors {}", path));
  PX_USER_CHECK(!root.is_discarded(), "safetensors {}: the header is not valid JSON", path);
  PX_USER_CHECK(root.is_object(), "safetensors {}: the header is a JSON {}, expected an object", path,
                root.type_name());

  SafetensorsFile out;
  std::vector<Entry> entries;
  for (const auto& [name, value] : root.items()) {
    if (name == kMetadataKey) {
      out.metadata = parse_metadata(path, value);
      continue;
    }
    entries.push_back(parse_entry(path, name, value));
  }
  uint64_t buffer_bytes = file_bytes - 8 - header_bytes;
  check_layout(path, entries, buffer_bytes);

  // Sorted by offset, so the buffer is read front to back straight into each tensor's storage.
  for (const Entry& e : entries) {
    Tensor t = Tensor::empty(e.shape, e.dtype);
    if (t.nbytes()) in.read(static_cast<char*>(t.raw()), static_cast<std::streamsize>(t.nbytes()));
    PX_USER_CHECK(in.good(), "safetensors {}: tensor '{}': could not read {} bytes at offset {}", path,
                  e.name, t.nbytes(), e.begin);
    out.tensors.emplace(e.name, std::move(t));
  }
  return out;
}

void write_safetensors(const std::string& path, const NamedTensors& tensors,
                       const std::map<std::string, std::string>& metadata) {
  std::vector<const std::pair<std::string, Tensor>*> sorted;
  std::set<std::string> seen;
  for (const auto& nt : tensors) {
    PX_USER_CHECK(!nt.first.empty() && nt.first != kMetadataKey,
                  "safetensors {}: tensor name '{}' is reserved or empty; choose another name", path,
                  nt.first);
    PX_USER_CHECK(seen.insert(nt.first).second, "safetensors {}: tensor name '{}' appears twice", path,
                  nt.first);
    PX_CHECK(nt.second.defined(), "safetensors {}: tensor '{}' is undefined", path, nt.first);
    sorted.push_back(&nt);
  }
  std::sort(sorted.begin(), sorted.end(), [](auto* a, auto* b) { return a->first < b->first; });

  json root = json::object();
  if (!metadata.empty()) root[kMetadataKey] = metadata;
  uint64_t offset = 0;
  for (const auto* nt : sorted) {
    const Tensor& t = nt->second;
    uint64_t end    = offset + t.nbytes();
    root[nt->first] = {
        {"dtype", dtype_name(t.dtype())}, {"shape", t.shape()}, {"data_offsets", {offset, end}}};
    offset = end;
  }
  std::string header = root.dump();
  header.append((8 - header.size() % 8) % 8, ' ');  // the reference pads to 8 bytes so the data stays aligned
  unsigned char len_bytes[8];
  for (int i = 0; i < 8; ++i) len_bytes[i] = static_cast<unsigned char>(uint64_t{header.size()} >> (8 * i));

  // Write beside the target and rename over it: a crash never leaves a half-written checkpoint.
  AtomicFile out("safetensors", path);
  out.write(len_bytes, 8);
  out.write(header);
  for (const auto* nt : sorted) out.write(nt->second.raw(), nt->second.nbytes());
  out.commit();
}

}  // namespace paraxis
