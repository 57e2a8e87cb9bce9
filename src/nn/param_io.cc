#include "paraxis/nn/param_io.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "paraxis/core/error.h"

namespace paraxis {

namespace {

void check_no_extra_tensors(const SafetensorsFile& file, const std::vector<Param*>& params,
                            const std::string& source) {
  std::set<std::string> wanted;
  for (const Param* p : params) wanted.insert(p->name);
  for (const auto& [name, t] : file.tensors) {
    PX_USER_CHECK(wanted.count(name),
                  "{}: tensor '{}' {} matches no parameter of the model; was the file written for another "
                  "model or size?",
                  source, name, shape_str(t.shape()));
  }
}

// A NaN or infinity in a parameter file would only show up as a diverged loss steps later; refuse it here.
void check_finite(const Tensor& t, const std::string& name, const std::string& source) {
  if (t.dtype() != DType::kF32) return;
  const float* v = t.data();
  for (int64_t i = 0; i < t.numel(); ++i)
    PX_USER_CHECK(std::isfinite(v[i]),
                  "{}: parameter '{}' holds {} at flat index {}; parameters must be finite (the file is "
                  "corrupt or was saved from a diverged run); use an earlier checkpoint or re-export it",
                  source, name, v[i], i);
}

// The file's tensor for p, checked against p's name, dtype and full shape.
const Tensor& tensor_for(const SafetensorsFile& file, const Param& p, const std::string& source) {
  auto it = file.tensors.find(p.name);
  PX_USER_CHECK(it != file.tensors.end(),
                "{}: parameter '{}' {} is missing from the file; was it written for another model or size?",
                source, p.name, shape_str(p.full_shape));
  const Tensor& t = it->second;
  PX_USER_CHECK(t.dtype() == p.value.dtype(), "{}: parameter '{}' is {} in the file, the model expects {}",
                source, p.name, dtype_name(t.dtype()), dtype_name(p.value.dtype()));
  PX_USER_CHECK(
      t.shape() == p.full_shape,
      "{}: parameter '{}' has shape {} in the file, the model expects {}; use the model size the file "
      "was written with",
      source, p.name, shape_str(t.shape()), shape_str(p.full_shape));
  check_finite(t, p.name, source);
  return t;
}

// A shard takes its slice of the full tensor (each group's slice: GPT qkv, the shard's heads of q, k, v).
void load_shard(Param& p, const Tensor& full) {
  PX_CHECK(p.shard_dim >= 0 && p.shard_dim < full.ndim(),
           "parameter '{}' is a shard {} of {} without shard_dim", p.name, shape_str(p.value.shape()),
           shape_str(p.full_shape));
  Shape expect        = p.full_shape;
  expect[p.shard_dim] = p.value.shape()[p.shard_dim];
  const int groups    = std::max(1, p.shard_groups);
  PX_CHECK(p.value.shape() == expect && p.shard_begin >= 0 &&
               p.shard_begin + expect[p.shard_dim] / groups <= p.full_shape[p.shard_dim] / groups,
           "parameter '{}': shard {} at {} along dim {} ({} groups) does not fit {}", p.name,
           shape_str(p.value.shape()), p.shard_begin, p.shard_dim, groups, shape_str(p.full_shape));
  copy_full_to_shard(p, p.value, full);
}

}  // namespace

void load_params(const SafetensorsFile& file, const std::vector<Param*>& params, const std::string& source,
                 ExtraTensors extra) {
  if (extra == ExtraTensors::kError) check_no_extra_tensors(file, params, source);
  for (Param* p : params) {
    const Tensor& t = tensor_for(file, *p, source);
    if (p->value.shape() == p->full_shape)
      p->value.copy_from(t);
    else
      load_shard(*p, t);
  }
}

void save_params(const std::string& path, const std::vector<Param*>& params,
                 const std::map<std::string, std::string>& metadata) {
  NamedTensors named;
  for (const Param* p : params) {
    PX_CHECK(p->value.shape() == p->full_shape,
             "save_params {}: parameter '{}' is a shard {} of {}; gather the full tensor first", path,
             p->name, shape_str(p->value.shape()), shape_str(p->full_shape));
    named.emplace_back(p->name, p->value);
  }
  write_safetensors(path, named, metadata);
}

}  // namespace paraxis
