// Each family's checks of a ModelSpec (user errors naming the value and a valid example): the family's
// builder runs its own, check_model_spec (nn/model.h) dispatches on spec.kind.
#pragma once

#include "paraxis/nn/model.h"

namespace paraxis {

void check_mlp_spec(const ModelSpec& spec);
void check_cnn_spec(const ModelSpec& spec);
void check_gpt_spec(const ModelSpec& spec);

}  // namespace paraxis
