// The spatial layout of a CNN (parallel/spatial.h): the single-device model's blocks, the conv side wrapped
// to work on row slabs, the flatten block the layout change to batch; and the checks that it can be split.
#include <fmt/format.h>

#include <algorithm>

#include "parallel/spatial/layers.h"
#include "paraxis/core/error.h"
#include "paraxis/nn/flatten.h"
#include "paraxis/nn/linear.h"
#include "paraxis/parallel/tensor_parallel.h"

namespace paraxis {

namespace {

bool has_spatial_side(const ModelSpec& spec) {
  return spec.kind == "cnn" || spec.kind == "alexnet";
}

// Index of the flatten block (where the FC side starts), or -1.
int flatten_block(const Model& m) {
  for (size_t b = 0; b < m.blocks.size(); ++b)
    if (std::string(m.blocks[b]->kind()) == "flatten") return static_cast<int>(b);
  return -1;
}

// Index of the block where the layout changes: the first that needs whole images (flatten, or AlexNet's
// adaptive average pooling, whose bins may span any rows), or -1.
int layout_block(const Model& m) {
  for (size_t b = 0; b < m.blocks.size(); ++b) {
    const std::string kind = m.blocks[b]->kind();
    if (kind == "flatten" || kind == "adaptive_avgpool2d") return static_cast<int>(b);
  }
  return -1;
}

// The smallest height from `in`'s up at which every block up to the layout change gets at least `sp` rows.
int64_t smallest_height(const Model& m, int lay, Shape in, int sp) {
  for (;; ++in[2]) {
    Shape s = in;
    int b   = 0;
    for (; b <= lay && s[2] >= sp; ++b) s = m.blocks[b]->output_shape(s);
    if (b > lay) return in[2];
  }
}

// The layout change at block `blk` (input height h): to batch or whole, then flattened (at flatten) or
// through the block itself.
std::unique_ptr<Layer> layout_change(std::unique_ptr<Layer> blk, int64_t h, const SpInfo& sp) {
  const std::string name = blk->name();
  if (std::string(blk->kind()) == "flatten") blk.reset();
  if (sp.fc == SpFc::kModel) return std::make_unique<SpatialToWhole>(name, h, sp, std::move(blk));
  return std::make_unique<SpatialToBatch>(name, h, sp, std::move(blk));
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
  PX_USER_CHECK(kind == "relu" && !first,
                "--sp: block {} ({}) cannot run on row slabs; the conv side may hold conv2d, relu and "
                "maxpool2d blocks (first a conv2d) before a flatten or an adaptive average pooling",
                blk->name(), kind);
  return blk;
}

// "2, 4": the sp values from 2 up to `most` that divide n.
std::string dividing_sp(int64_t n, int64_t most) {
  std::string out;
  for (int64_t d = 2; d <= std::min<int64_t>(n, most); ++d)
    if (n % d == 0) out += fmt::format("{}{}", out.empty() ? "" : ", ", d);
  return out.empty() ? "none" : out;
}

// --sp-fc model: sp divides every split FC width; no active dropout sees a feature-split activation.
// max_sp: the most devices the conv side's heights allow (for the suggestion).
void validate_fc_model(const ModelSpec& spec, int sp, int64_t max_sp) {
  auto m                           = build_model(spec);
  const int flat                   = flatten_block(*m);
  const std::vector<FcSplit> split = fc_side_splits(*m, flat + 1);
  for (size_t b = flat + 1; b < m->blocks.size(); ++b) {
    const Layer& blk = *m->blocks[b];
    if (split[b] == FcSplit::kColumn) {
      const int64_t width = static_cast<const Linear&>(blk).out_features();
      PX_USER_CHECK(width % sp == 0,
                    "--sp {} --sp-fc model splits the {} output features of {} over {} devices, and {} does "
                    "not divide {}; use --sp {} (dividing {}), or --sp-fc batch",
                    sp, width, blk.name(), sp, sp, width, dividing_sp(width, max_sp), width);
    }
    if (split[b] == FcSplit::kSplitActivation && std::string(blk.kind()) == "dropout")
      PX_USER_CHECK(spec.dropout == 0,
                    "--sp-fc model: dropout {} (--dropout {}) would act on activations split over the sp "
                    "group, whose masks differ from one device's; use --dropout 0 or --sp-fc batch",
                    blk.name(), spec.dropout);
  }
}

}  // namespace

SpFc parse_sp_fc(const std::string& value) {
  if (value == "batch") return SpFc::kBatch;
  PX_USER_CHECK(value == "model",
                "--sp-fc {} is not a split of the fully connected layers; use --sp-fc batch (each device "
                "N/sp samples, whole weights) or --sp-fc model (all samples, weights split over sp)",
                value);
  return SpFc::kModel;
}

const char* sp_fc_name(SpFc fc) {
  return fc == SpFc::kModel ? "model" : "batch";
}

std::unique_ptr<Model> build_spatial_model(const ModelSpec& spec, const SpInfo& sp) {
  auto m = build_model(spec);
  if (!sp.active()) return m;
  const int flat = flatten_block(*m), lay = layout_block(*m);
  PX_USER_CHECK(has_spatial_side(spec) && flat > 0 && lay > 0,
                "--sp {} splits images along their height, but the model {} has no convolutional side; use "
                "--sp 1 (or --model cnn / alexnet)",
                sp.size, spec.describe());
  Shape s = m->input_shape(1);  // whole shapes, chained through the single-device blocks
  for (int b = 0; b <= lay; ++b) {
    const Shape next = m->blocks[b]->output_shape(s);
    m->blocks[b]     = b < lay ? spatial_block(std::move(m->blocks[b]), s[2], sp, b == 0)
                               : layout_change(std::move(m->blocks[b]), s[2], sp);
    s                = next;
  }
  if (sp.fc == SpFc::kModel)
    split_fc_side(*m, flat + 1, TpInfo{sp.fc_comm ? sp.fc_comm : sp.comm, sp.rank, sp.size});
  return m;
}

void validate_spatial(const ModelSpec& spec, int sp, int64_t microbatch_rows, int64_t microbatches_per_batch,
                      SpFc fc) {
  PX_USER_CHECK(sp >= 1, "--sp {} must be at least 1", sp);
  PX_USER_CHECK(fc == SpFc::kBatch || sp > 1,
                "--sp-fc model splits the fully connected weights over the spatial group, but --sp is {}; "
                "use --sp 2 (or more) with it, or --sp-fc batch",
                sp);
  if (sp == 1) return;
  auto m        = build_model(spec);
  const int lay = layout_block(*m);
  PX_USER_CHECK(has_spatial_side(spec) && flatten_block(*m) > 0 && lay > 0,
                "--sp {} splits images along their height, but the model {} has no convolutional side; use "
                "--sp 1 (or --model cnn / alexnet)",
                sp, spec.describe());
  const Shape in = m->input_shape(1);
  Shape s        = in;
  int64_t max_sp = s[2];
  for (int b = 0; b <= lay; ++b) {
    max_sp = std::min(max_sp, s[2]);
    if (s[2] < sp)
      PX_USER_FAIL(
          "--sp {}: block {} ({}) gets {} row{}, fewer than the {} devices that split them (each "
          "needs at least one row); use --sp {} or fewer, or a taller image, e.g. --image {},{},{}",
          sp, m->blocks[b]->name(), m->blocks[b]->kind(), s[2], s[2] == 1 ? "" : "s", sp, s[2], in[1],
          smallest_height(*m, lay, in, sp), in[3]);
    s = m->blocks[b]->output_shape(s);
  }
  if (fc == SpFc::kModel)
    return validate_fc_model(spec, sp, max_sp);  // every member takes the whole micro-batch
  const int64_t rows_ok = (microbatch_rows + sp - 1) / sp * sp;
  PX_USER_CHECK(microbatch_rows % sp == 0,
                "--sp {} does not divide the {} samples of a micro-batch (after flatten each device takes an "
                "equal share for the fully connected layers); use --batch {} ({} per micro-batch)",
                sp, microbatch_rows, rows_ok * microbatches_per_batch, rows_ok);
}

namespace {

// "10/9/9": each member's part of `count`.
std::string per_member(int64_t count, int sp) {
  std::string out;
  for (int r = 0; r < sp; ++r) out += fmt::format("{}{}", r ? "/" : "", rows_of(count, sp, r).size());
  return out;
}

// The FC side's split under --sp-fc model: each device's features of the split Linears and activations.
BlockSplit fc_model_split(const Layer& blk, FcSplit split, const Shape& in, const Shape& out,
                          const std::string& samples, int sp) {
  auto parts = [sp](int64_t count) { return per_member(count, sp); };
  if (split == FcSplit::kColumn)
    return {blk.name(), blk.kind(), "model (columns)", parts(out.back()) + " output features"};
  if (split == FcSplit::kRow)
    return {blk.name(), blk.kind(), "model (rows), all-reduce", parts(in.back()) + " input features"};
  if (split == FcSplit::kSplitActivation)
    return {blk.name(), blk.kind(), "model (features)", parts(out.back()) + " features"};
  return {blk.name(), blk.kind(), "whole (replicated)", samples};
}

}  // namespace

std::vector<BlockSplit> spatial_layout(const ModelSpec& spec, int sp, int64_t batch, SpFc fc) {
  auto m         = build_model(spec);
  const int flat = flatten_block(*m), lay = layout_block(*m);
  auto parts                       = [sp](int64_t count) { return per_member(count, sp); };
  const std::vector<FcSplit> split = fc_side_splits(*m, flat + 1);
  const std::string all_samples    = fmt::format("all {} samples", batch);
  std::vector<BlockSplit> out;
  Shape s = m->input_shape(batch);
  for (int b = 0; b < static_cast<int>(m->blocks.size()); ++b) {
    const Layer& blk = *m->blocks[b];
    const Shape next = blk.output_shape(s);
    if (b < lay)
      out.push_back({blk.name(), blk.kind(), "spatial (rows)", parts(next[2]) + " rows"});
    else if (fc == SpFc::kModel && b == lay)
      out.push_back({blk.name(), blk.kind(), "spatial -> whole (all-gather)", all_samples});
    else if (fc == SpFc::kModel && b > flat)
      out.push_back(fc_model_split(blk, split[b], s, next, all_samples, sp));
    else if (fc == SpFc::kModel)
      out.push_back({blk.name(), blk.kind(), "whole (replicated)", all_samples});
    else
      out.push_back(
          {blk.name(), blk.kind(), b == lay ? "spatial -> batch" : "batch", parts(batch) + " samples"});
    s = next;
  }
  return out;
}

}  // namespace paraxis
