#include "paraxis/data/idx.h"

#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>

#include "paraxis/core/error.h"
#include "paraxis/core/input_file.h"
#include "paraxis/core/safe_write.h"

namespace paraxis {

namespace {
constexpr uint8_t kIdxUnsignedByte     = 0x08;
constexpr size_t kMaxDecompressedBytes = size_t{1}
                                         << 33;  // 8 GiB: refuse gzip bombs rather than exhaust memory

// The whole size an IDX header announces (magic and dims in the first bytes); 0 while unknown or invalid.
size_t idx_announced_size(const uint8_t* p, size_t n) {
  if (n < 4 || p[0] != 0 || p[1] != 0 || p[3] < 1 || p[3] > 4) return 0;
  const size_t header = 4 + 4 * size_t{p[3]};
  if (n < header) return 0;
  size_t total = 1;
  for (size_t d = 0; d < p[3]; ++d) {
    const size_t dim = (size_t{p[4 + 4 * d]} << 24) | (size_t{p[5 + 4 * d]} << 16) |
                       (size_t{p[6 + 4 * d]} << 8) | size_t{p[7 + 4 * d]};
    total = (dim != 0 && total > kMaxDecompressedBytes / dim) ? kMaxDecompressedBytes : total * dim;
  }
  return header + total;
}

// How far the output may grow: deflate's best ratio (about 1032:1) bounds it, the IDX header (once inflated)
// bounds it tighter; one byte more than announced is enough to report trailing bytes.
size_t output_cap(const std::vector<uint8_t>& in, const std::vector<uint8_t>& out, size_t produced) {
  size_t cap = std::min(in.size() * 1032 + (1 << 16), kMaxDecompressedBytes);
  if (const size_t announced = idx_announced_size(out.data(), produced)) cap = std::min(cap, announced + 1);
  return cap;
}

std::vector<uint8_t> gunzip(const std::vector<uint8_t>& in, const std::string& path) {
  z_stream zs{};
  PX_CHECK(inflateInit2(&zs, 15 + 16) == Z_OK, "zlib inflateInit2 failed");
  std::vector<uint8_t> out;
  // The gzip trailer holds the uncompressed size modulo 2^32: a first guess for the buffer, trusted only up
  // to 16 times the compressed size (a damaged trailer claiming 4 GiB must not allocate 4 GiB).
  uint32_t hint = 0;
  if (in.size() >= 4) memcpy(&hint, in.data() + in.size() - 4, 4);  // little-endian on the machines we run on
  out.resize(std::clamp<size_t>(hint, 1 << 16, in.size() * 16 + (1 << 16)));
  zs.next_in      = const_cast<Bytef*>(in.data());
  zs.avail_in     = static_cast<uInt>(in.size());
  size_t produced = 0;
  int rc          = Z_OK;
  while (true) {
    if (produced == out.size()) {
      const size_t cap = output_cap(in, out, produced);
      if (produced >= cap) inflateEnd(&zs);
      PX_USER_CHECK(produced < cap,
                    "'{}': decompresses to more than {} bytes (the IDX header, or deflate's best ratio for "
                    "{} compressed bytes, allows no more); the file is damaged or not a dataset",
                    path, cap, in.size());
      out.resize(std::min(out.size() * 2, cap));
    }
    zs.next_out   = out.data() + produced;
    zs.avail_out  = static_cast<uInt>(std::min<size_t>(out.size() - produced, UINT32_MAX));
    size_t before = zs.avail_out;
    rc            = inflate(&zs, Z_NO_FLUSH);
    produced += before - zs.avail_out;
    if (rc == Z_STREAM_END) {
      if (zs.avail_in == 0) break;
      // Concatenated gzip members (gzip a b > c) are one stream to gunzip: read on.
      PX_CHECK(inflateReset(&zs) == Z_OK, "zlib inflateReset failed");
      continue;
    }
    if (rc == Z_OK) continue;
    if (rc == Z_BUF_ERROR && zs.avail_out == 0) continue;  // output full: grow and go on
    std::string msg =
        zs.msg ? zs.msg : (rc == Z_BUF_ERROR ? "unexpected end of file" : "error " + std::to_string(rc));
    inflateEnd(&zs);
    PX_USER_FAIL(
        "'{}': truncated or corrupt gzip stream ({} after {} decompressed bytes); download or reinstall "
        "the file",
        path, msg, produced);
  }
  inflateEnd(&zs);
  out.resize(produced);
  return out;
}

uint32_t big_endian_u32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}
}  // namespace

std::vector<uint8_t> read_file_bytes(const std::string& path) {
  check_input_file("IDX file", path);
  std::ifstream f(path, std::ios::binary | std::ios::ate);
  PX_USER_CHECK(f.good(), "cannot open '{}': {}", path, std::strerror(errno));
  std::streamoff size = f.tellg();
  PX_USER_CHECK(size >= 0, "cannot read '{}': not a regular file", path);
  std::vector<uint8_t> bytes(static_cast<size_t>(size));
  f.seekg(0);
  f.read(reinterpret_cast<char*>(bytes.data()), size);
  PX_USER_CHECK(f.gcount() == size, "cannot read '{}': got {} of {} bytes", path, f.gcount(), size);
  if (bytes.size() >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b) return gunzip(bytes, path);
  return bytes;
}

void write_file_bytes(const std::string& path, const std::vector<uint8_t>& bytes, bool gzip) {
  AtomicFile out("IDX file", path);
  if (gzip) {
    gzFile f = gzdopen(::dup(out.fd()), "wb");
    PX_CHECK(f != nullptr, "IDX file {}: cannot start gzip: {}", path, std::strerror(errno));
    int written = bytes.empty() ? 0 : gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
    int closed  = gzclose(f);
    PX_CHECK(written == static_cast<int>(bytes.size()) && closed == Z_OK, "writing gzip '{}' failed", path);
  } else {
    out.write(bytes.data(), bytes.size());
  }
  out.commit();
}

IdxArray parse_idx(const std::vector<uint8_t>& bytes, const std::string& what) {
  PX_USER_CHECK(bytes.size() >= 4, "'{}': {} bytes is too short for an IDX header (4-byte magic)", what,
                bytes.size());
  uint32_t magic = big_endian_u32(bytes.data());
  PX_USER_CHECK(
      bytes[0] == 0 && bytes[1] == 0 && bytes[3] >= 1 && bytes[3] <= 4,
      "'{}': not an IDX file: magic 0x{:08x}; expected 0x0000080N (unsigned bytes, N = 1..4 dimensions, "
      "e.g. 0x00000803 for images, 0x00000801 for labels)",
      what, magic);
  PX_USER_CHECK(bytes[2] == kIdxUnsignedByte,
                "'{}': IDX element type 0x{:02x} is not supported; only unsigned "
                "bytes (0x08: magic 0x000008{:02x} for this file's {} dimensions) are",
                what, bytes[2], bytes[3], bytes[3]);
  const int ndim      = bytes[3];
  const size_t header = 4 + 4 * static_cast<size_t>(ndim);
  PX_USER_CHECK(bytes.size() >= header,
                "'{}': truncated: {} bytes, shorter than its {}-byte header ({} dims)", what, bytes.size(),
                header, ndim);
  IdxArray out;
  size_t expected = 1;  // saturates just past the file length: anything larger is an error anyway
  double needed   = 1;  // for the message only
  for (int d = 0; d < ndim; ++d) {
    uint32_t n = big_endian_u32(bytes.data() + 4 + 4 * d);
    out.dims.push_back(n);
    needed *= n;
    expected = (n != 0 && expected > bytes.size() / n) ? bytes.size() + 1 : expected * n;
  }
  const size_t payload = bytes.size() - header;
  PX_USER_CHECK(payload == expected,
                "'{}': dimensions {} need {:.0f} data bytes after the {}-byte header, but the "
                "file has {} ({}); the file is damaged or not this format",
                what, shape_str(out.dims), needed, header, payload,
                payload < expected ? "truncated" : "trailing bytes");
  out.data.assign(bytes.begin() + static_cast<std::ptrdiff_t>(header), bytes.end());
  return out;
}

IdxArray read_idx(const std::string& path) {
  return parse_idx(read_file_bytes(path), path);
}

void write_idx(const std::string& path, const Shape& dims, const std::vector<uint8_t>& data, bool gzip) {
  PX_CHECK(!dims.empty() && dims.size() <= 4 && shape_numel(dims) == static_cast<int64_t>(data.size()),
           "write_idx {}: dims {} for {} bytes", path, shape_str(dims), data.size());
  std::vector<uint8_t> bytes = {0, 0, kIdxUnsignedByte, static_cast<uint8_t>(dims.size())};
  for (int64_t d : dims)
    for (int shift = 24; shift >= 0; shift -= 8) bytes.push_back(static_cast<uint8_t>(d >> shift));
  bytes.insert(bytes.end(), data.begin(), data.end());
  write_file_bytes(path, bytes, gzip);
}

}  // namespace paraxis
