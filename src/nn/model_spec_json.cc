// ModelSpec <-> JSON (model_spec_json.h).
#include "paraxis/nn/model_spec_json.h"

#include "paraxis/core/error.h"

namespace paraxis {

nlohmann::json model_spec_to_json(const ModelSpec& s) {
  if (s.kind == "mlp") return {{"kind", "mlp"}, {"mlp_sizes", s.mlp_sizes}};
  if (s.kind == "cnn")
    return {{"kind", "cnn"},        {"c1", s.cnn_c1},         {"c2", s.cnn_c2},         {"fc", s.cnn_fc},
            {"classes", s.classes}, {"kernel", s.cnn_kernel}, {"stride", s.cnn_stride}, {"image", s.image}};
  if (s.kind == "alexnet")
    return {{"kind", "alexnet"}, {"classes", s.classes}, {"image", s.image}, {"dropout", s.dropout}};
  return {{"kind", s.kind},   {"vocab", s.vocab},   {"context", s.context}, {"width", s.width},
          {"heads", s.heads}, {"layers", s.layers}, {"dropout", s.dropout}};
}

ModelSpec model_spec_from_json(const nlohmann::json& j) {
  PX_USER_CHECK(
      j.is_object() && j.contains("kind") && j["kind"].is_string(),
      "model description {} has no \"kind\"; expected e.g. {{\"kind\":\"mlp\",\"mlp_sizes\":[784,256,10]}}",
      j.dump());
  ModelSpec s;
  s.kind = j["kind"].get<std::string>();
  try {
    if (s.kind == "mlp") {
      s.mlp_sizes = j.at("mlp_sizes").get<std::vector<int64_t>>();
    } else if (s.kind == "cnn") {
      s.cnn_c1 = j.at("c1"), s.cnn_c2 = j.at("c2"), s.cnn_fc = j.at("fc"), s.classes = j.at("classes");
      s.cnn_kernel = j.value("kernel", int64_t{5}), s.cnn_stride = j.value("stride", int64_t{1});
      s.image = j.value("image", std::vector<int64_t>{1, 28, 28});
    } else if (s.kind == "alexnet") {
      s.classes = j.at("classes"), s.image = j.value("image", std::vector<int64_t>{3, 224, 224});
      s.dropout = j.value("dropout", 0.0f);
    } else {
      s.vocab = j.at("vocab"), s.context = j.at("context"), s.width = j.at("width");
      s.heads = j.at("heads"), s.layers = j.at("layers"), s.dropout = j.value("dropout", 0.0f);
    }
  } catch (const nlohmann::json::exception& e) {
    throw Error(ErrorKind::kUser, fmt::format("model description {} is incomplete for kind {}: {}", j.dump(),
                                              s.kind, e.what()));
  }
  check_model_spec(s);
  return s;
}

}  // namespace paraxis
