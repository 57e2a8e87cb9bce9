// The load side of a committed checkpoint: every saved shard goes back to its place in the full tensor, and
// each device takes the slice its own layout needs (load-time resharding, as PyTorch DCP does).
#include <fmt/format.h>

#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "paraxis/core/error.h"
#include "paraxis/core/safetensors.h"
#include "paraxis/train/checkpoint.h"
#include "train/checkpoint_store.h"

namespace paraxis {

namespace fs = std::filesystem;

namespace {

struct SavedPiece {
  Tensor tensor;
  Param place;           // shard_dim -1: the whole tensor
  int64_t flat_lo = -1;  // ZeRO-1: tensor holds elements [flat_lo, flat_hi) of the flattened local shard
  int64_t flat_hi = -1;
  Shape local;  // ... whose shape is this
};

// ZeRO-1 pieces, flat ranges of one local shard spread over the dp ranks, joined back into that shard.
std::vector<SavedPiece> join_flat(const std::string& name, const std::vector<SavedPiece>& pieces) {
  std::map<int64_t, std::vector<const SavedPiece*>> by_shard;  // by the shard's place along its dim
  for (const SavedPiece& p : pieces) {
    if (p.flat_lo < 0) return pieces;
    by_shard[p.place.shard_begin].push_back(&p);
  }
  std::vector<SavedPiece> joined;
  for (auto& [begin, flats] : by_shard) {
    SavedPiece out;
    out.tensor      = Tensor::zeros(flats.front()->local, flats.front()->tensor.dtype());
    out.place       = flats.front()->place;
    const size_t es = dtype_size(out.tensor.dtype());
    std::set<int64_t> seen;
    int64_t covered = 0;
    for (const SavedPiece* f : flats) {
      PX_USER_CHECK(
          f->flat_lo >= 0 && f->flat_hi <= out.tensor.numel() && f->flat_hi - f->flat_lo == f->tensor.numel(),
          "checkpoint: '{}' has a ZeRO range [{}, {}) outside its shard", name, f->flat_lo, f->flat_hi);
      std::memcpy(static_cast<char*>(out.tensor.raw()) + f->flat_lo * es, f->tensor.raw(),
                  f->tensor.nbytes());
      if (seen.insert(f->flat_lo).second) covered += f->tensor.numel();
    }
    PX_USER_CHECK(covered == out.tensor.numel(),
                  "checkpoint: the ZeRO ranges of '{}' cover {} of {} elements", name, covered,
                  out.tensor.numel());
    joined.push_back(out);
  }
  return joined;
}

// Every device file's tensors by name, with their places.
class SavedTensors {
 public:
  SavedTensors(const std::string& step_dir, int devices) {
    for (int r = 0; r < devices; ++r) {
      const std::string path = (fs::path(step_dir) / device_file_name(r)).string();
      SafetensorsFile f      = read_safetensors(path);
      auto shards            = nlohmann::json::parse(f.metadata["shards"], nullptr, false);
      PX_USER_CHECK(shards.is_object(), "{}: no 'shards' metadata; not a {} file", path, kCheckpointFormat);
      for (auto& [name, t] : f.tensors) pieces_[name].push_back(piece_of(name, t, shards));
    }
  }

  // The full tensor `name` of shape `full`, assembled from its pieces (dp replicas overwrite alike).
  Tensor full(const std::string& name, const Shape& full_shape) const {
    auto it = pieces_.find(name);
    PX_USER_CHECK(it != pieces_.end(), "checkpoint: '{}' {} is missing; was it saved from another model?",
                  name, shape_str(full_shape));
    const std::vector<SavedPiece> pieces = join_flat(name, it->second);
    for (const SavedPiece& p : pieces)
      if (p.place.shard_dim < 0) {
        PX_USER_CHECK(p.tensor.shape() == full_shape, "checkpoint: '{}' is {}, this model needs {}", name,
                      shape_str(p.tensor.shape()), shape_str(full_shape));
        return p.tensor;
      }
    Tensor out = Tensor::zeros(full_shape, pieces.front().tensor.dtype());
    std::set<int64_t> begins;
    int64_t covered = 0;
    for (const SavedPiece& p : pieces) {
      PX_USER_CHECK(p.place.full_shape == full_shape,
                    "checkpoint: '{}' is a shard of {}, this model needs {}", name,
                    shape_str(p.place.full_shape), shape_str(full_shape));
      copy_shard_to_full(p.place, out, p.tensor);
      if (begins.insert(p.place.shard_begin).second) covered += p.tensor.dim(p.place.shard_dim);
    }
    const Param& any = pieces.front().place;
    PX_USER_CHECK(covered == full_shape[any.shard_dim],
                  "checkpoint: the shards of '{}' cover {} of {} along dim {}", name, covered,
                  full_shape[any.shard_dim], any.shard_dim);
    return out;
  }

 private:
  // [shard_dim, groups, begin, full shape...], or for ZeRO-1 {"place": that, "flat": [lo, hi], "local": shape}.
  static SavedPiece piece_of(const std::string& name, const Tensor& t, const nlohmann::json& shards) {
    SavedPiece piece;
    piece.tensor           = t;
    piece.place.name       = name;
    piece.place.full_shape = t.shape();
    if (!shards.contains(name)) return piece;
    nlohmann::json v = shards.at(name);
    if (v.is_object()) {
      piece.flat_lo          = v.at("flat").at(0).get<int64_t>();
      piece.flat_hi          = v.at("flat").at(1).get<int64_t>();
      piece.local            = v.at("local").get<Shape>();
      piece.place.full_shape = piece.local;
      v                      = v.at("place");
    }
    if (v.at(0).get<int>() < 0) return piece;
    piece.place.shard_dim    = v.at(0).get<int>();
    piece.place.shard_groups = v.at(1).get<int>();
    piece.place.shard_begin  = v.at(2).get<int64_t>();
    piece.place.full_shape.clear();
    for (size_t i = 3; i < v.size(); ++i) piece.place.full_shape.push_back(v.at(i).get<int64_t>());
    return piece;
  }

  std::map<std::string, std::vector<SavedPiece>> pieces_;
};

// Copies `full` into `local`, taking p's shard when local has p's (sharded) shape.
void take_slice(const Param& p, Tensor& local, const Tensor& full, const std::string& name) {
  PX_USER_CHECK(full.dtype() == local.dtype(), "checkpoint: '{}' is {}, expected {}", name,
                dtype_name(full.dtype()), dtype_name(local.dtype()));
  if (local.shape() == full.shape())
    local.copy_from(full);
  else
    copy_full_to_shard(p, local, full);
}

// One optimizer buffer of this device from the logical tensor "optim.<param>.<buffer>": the parameter's
// shard of it, and under ZeRO-1 the flat range of that shard the buffer covers.
void load_state(NamedTensor& s, const SavedTensors& saved,
                const std::map<std::string, const Param*>& params) {
  const std::string buffer = s.name.substr(s.name.rfind('.') + 1);
  int64_t lo = -1, hi = -1;
  const std::string param = zero_owner(s.name.substr(0, s.name.rfind('.')), lo, hi);
  const std::string name  = "optim." + param + "." + buffer;
  auto it                 = params.find(param);
  PX_CHECK(it != params.end(), "checkpoint: optimizer state '{}' of no parameter", s.name);
  const Param& p = *it->second;
  if (buffer == "step") return take_slice(p, s.tensor, saved.full(name, s.tensor.shape()), name);
  const Tensor full = saved.full(name, p.full_shape);
  if (lo < 0) return take_slice(p, s.tensor, full, name);
  Tensor local = Tensor::empty(p.value.shape(), full.dtype());
  take_slice(p, local, full, name);
  const size_t es = dtype_size(local.dtype());
  PX_CHECK(hi <= local.numel() && s.tensor.nbytes() == static_cast<size_t>(hi - lo) * es,
           "checkpoint: '{}' does not fit {}", s.name, shape_str(local.shape()));
  std::memcpy(s.tensor.raw(), static_cast<const char*>(local.raw()) + lo * es, s.tensor.nbytes());
}

}  // namespace

CheckpointState load_checkpoint(const ResumePoint& from, const TrainConfig& cfg, Engine& engine) {
  if (from.legacy) return load_legacy_checkpoint(from.step_dir, engine.rank(), cfg, engine);
  const CheckpointManifest m = read_manifest(from.step_dir);
  const SavedTensors saved(from.step_dir, m.devices);
  std::map<std::string, const Param*> params;
  for (Param* p : engine.params()) {
    take_slice(*p, p->value, saved.full(p->name, p->full_shape), p->name);
    params[p->name] = p;
  }
  for (NamedTensor& s : engine.optimizer().state()) load_state(s, saved, params);
  return {m.step, m.loader};
}

}  // namespace paraxis
