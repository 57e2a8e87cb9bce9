// paraxis/nn/model_spec_json.h — a ModelSpec as JSON and back (a trace records what it trained this way, so
// `paraxis analyze` can price other layouts of the same model).
//
//   nlohmann::json j = model_spec_to_json(ModelSpec::mlp({784, 256, 10}));
//   // {"kind":"mlp","mlp_sizes":[784,256,10]}
//   ModelSpec back = model_spec_from_json(j);   // checked with check_model_spec: a bad one is a user error
#pragma once

#include <nlohmann/json.hpp>

#include "paraxis/nn/model.h"

namespace paraxis {

nlohmann::json model_spec_to_json(const ModelSpec& spec);  // only the fields of its kind
ModelSpec model_spec_from_json(const nlohmann::json& j);

}  // namespace paraxis
