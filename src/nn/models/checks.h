// Each family's checks of a ModelSpec (user errors naming the value and a valid example): the family's
// builder runs its own, check_model_spec (nn/model.h) dispatches on spec.kind.
#pragma once

#include "paraxis/nn/model.h"

namespace paraxis {

void check_mlp_spec(const ModelSpec& spec);
void check_cnn_spec(const ModelSpec& spec);
void check_image(const ModelSpec& spec);  // spec.image is (C, H, W), all positive
void check_alexnet_spec(const ModelSpec& spec);
void check_gpt_spec(const ModelSpec& spec);

}  // namespace paraxis
