// The spatial layout of a CNN (parallel/spatial.h): the single-device model's blocks, the conv side wrapped
// to work on row slabs, the flatten block the layout change to batch; and the checks that it can be split.
#include <fmt/format.h>

#include "parallel/spatial/layers.h"
#include "paraxis/core/error.h"
#include "paraxis/nn/flatten.h"

namespace paraxis {

namespace {

bool has_spatial_side(const ModelSpec& spec) {
  return spec.kind == "cnn" || spec.kind == "alexnet";
}

// Index of the flatten block (the layout change), or -1.
int flatten_block(const Model& m) {
  for (size_t b = 0; b < m.blocks.size(); ++b)
    if (std::string(m.blocks[b]->kind()) == "flatten") return static_cast<int>(b);
  return -1;
}

// The block wrapped for row slabs; `h` is its whole input height.
std::unique_ptr<Layer> spatial_block(std::unique_ptr<Layer> blk, int64_t h, const SpInfo& sp, bool first) {
  const std::string kind = blk->kind();
  if (kind == "conv2d")
    return std::make_unique<SpatialConv2d>(std::unique_ptr<Conv2d>(static_cast<Conv2d*>(blk.release())), h,
                                           sp, first);
  if (kind == "maxpool2d" && !first)
    return std::make_unique<SpatialMaxPool2d>(
        std::unique_ptr<MaxPool2d>(static_cast<MaxPool2d*>(blk.release())), h, sp);
  if (kind == "flatten") return std::make_unique<SpatialToBatch>(blk->name(), h, sp);
  PX_USER_CHECK(kind == "relu" && !first,
                "--sp: block {} ({}) cannot run on row slabs; the conv side may hold conv2d, relu and "
                "maxpool2d blocks (first a conv2d) before a flatten",
                blk->name(), kind);
  return blk;
}

}  // namespace

std::unique_ptr<Model> build_spatial_model(const ModelSpec& spec, const SpInfo& sp) {
  auto m = build_model(spec);
  if (!sp.active()) return m;
  const int flat = flatten_block(*m);
  PX_USER_CHECK(has_spatial_side(spec) && flat > 0,
                "--sp {} splits images along their height, but the model {} has no convolutional side; use "
                "--sp 1 (or --model cnn / alexnet)",
                sp.size, spec.describe());
  Shape s = m->input_shape(1);  // whole shapes, chained through the single-device blocks
  for (int b = 0; b <= flat; ++b) {
    const Shape next = m->blocks[b]->output_shape(s);
    m->blocks[b]     = spatial_block(std::move(m->blocks[b]), s[2], sp, b == 0);
    s                = next;
  }
  return m;
}

void validate_spatial(const ModelSpec& spec, int sp, int64_t microbatch_rows,
                      int64_t microbatches_per_batch) {
  PX_USER_CHECK(sp >= 1, "--sp {} must be at least 1", sp);
  if (sp == 1) return;
  auto m         = build_model(spec);
  const int flat = flatten_block(*m);
  PX_USER_CHECK(has_spatial_side(spec) && flat > 0,
                "--sp {} splits images along their height, but the model {} has no convolutional side; use "
                "--sp 1 (or --model cnn / alexnet)",
                sp, spec.describe());
  Shape s = m->input_shape(1);
  for (int b = 0; b <= flat; ++b) {
    PX_USER_CHECK(
        s[2] >= sp,
        "--sp {}: block {} ({}) gets {} rows, fewer than the {} devices that split them (each needs "
        "at least one row); use --sp {} or fewer, or a taller --image",
        sp, m->blocks[b]->name(), m->blocks[b]->kind(), s[2], sp, s[2]);
    s = m->blocks[b]->output_shape(s);
  }
  const int64_t rows_ok = (microbatch_rows + sp - 1) / sp * sp;
  PX_USER_CHECK(microbatch_rows % sp == 0,
                "--sp {} does not divide the {} samples of a micro-batch (after flatten each device takes an "
                "equal share for the fully connected layers); use --batch {} ({} per micro-batch)",
                sp, microbatch_rows, rows_ok * microbatches_per_batch, rows_ok);
}

std::vector<BlockSplit> spatial_layout(const ModelSpec& spec, int sp, int64_t batch) {
  auto m         = build_model(spec);
  const int flat = flatten_block(*m);
  auto parts     = [sp](int64_t count) {
    std::string out;
    for (int r = 0; r < sp; ++r) out += (r ? "/" : "") + std::to_string(rows_of(count, sp, r).size());
    return out;
  };
  std::vector<BlockSplit> out;
  Shape s = m->input_shape(batch);
  for (int b = 0; b < static_cast<int>(m->blocks.size()); ++b) {
    const Layer& blk = *m->blocks[b];
    const Shape next = blk.output_shape(s);
    if (b < flat)
      out.push_back({blk.name(), blk.kind(), "spatial (rows)", parts(next[2]) + " rows"});
    else
      out.push_back(
          {blk.name(), blk.kind(), b == flat ? "spatial -> batch" : "batch", parts(batch) + " samples"});
    s = next;
  }
  return out;
}

}  // namespace paraxis
