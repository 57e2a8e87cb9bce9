// `paraxis generate`: sample bytes from a GPT saved by `paraxis train --save`.
#include <fmt/format.h>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "cli/command.h"
#include "cli/model_flags.h"
#include "paraxis/core/error.h"
#include "paraxis/core/rng.h"
#include "paraxis/core/safetensors.h"
#include "paraxis/nn/model.h"
#include "paraxis/nn/param_io.h"

namespace paraxis::cli {
namespace {

struct GenerateOptions {
  ModelSpec spec = ModelSpec::gpt(256, 64, 128, 4, 2);
  std::string init;
  std::string prompt = "The ";
  int64_t tokens     = 200;
  double temperature = 0.8;
  int64_t top_k      = 0;
  uint64_t seed      = 1;
};

int generate(const GenerateOptions& o) {
  PX_USER_CHECK(o.spec.kind == "gpt", "--model {}: generate samples text from a gpt; use --model gpt",
                o.spec.kind);
  PX_USER_CHECK(std::filesystem::is_regular_file(o.init),
                "--init {}: no such file; train one with `paraxis train "
                "--model gpt --data text --save FILE`",
                o.init);
  PX_USER_CHECK(o.tokens >= 0, "--tokens {} must be 0 or more", o.tokens);
  PX_USER_CHECK(o.temperature > 0, "--temperature {} must be positive; try 0.8", o.temperature);
  PX_USER_CHECK(o.top_k >= 0 && o.top_k <= o.spec.vocab, "--top-k {} must be in [0, {}] (0: no limit)",
                o.top_k, o.spec.vocab);
  PX_USER_CHECK(!o.prompt.empty(), "--prompt must not be empty; try --prompt \"The \"");
  auto model = build_model(o.spec);
  load_params(read_safetensors(o.init), model->params(), o.init);
  std::vector<int32_t> ids(o.prompt.begin(), o.prompt.end());
  for (int32_t& t : ids) t &= 0xff;
  for (int32_t t : ids)
    PX_USER_CHECK(t < o.spec.vocab, "the prompt has byte {} but the vocabulary is {}", t, o.spec.vocab);
  fmt::print("{}", o.prompt);
  Philox rng(o.seed, stream_id("generate"));
  std::vector<Ctx> ctx;
  for (int64_t n = 0; n < o.tokens; ++n) {
    int64_t T = std::min<int64_t>(static_cast<int64_t>(ids.size()), o.spec.context);
    std::vector<int32_t> window(ids.end() - T, ids.end());
    Tensor x = Tensor::from_ints({1, T}, window);
    ctx.assign(model->blocks.size(), Ctx{});
    for (Ctx& c : ctx) c.training = false;
    Tensor logits     = model->forward(ctx, x);  // (1, T, V)
    const float* last = logits.data() + (T - 1) * o.spec.vocab;
    std::vector<double> p(o.spec.vocab);
    double mx        = *std::max_element(last, last + o.spec.vocab);
    double threshold = -INFINITY;
    if (o.top_k > 0) {
      std::vector<float> sorted(last, last + o.spec.vocab);
      std::nth_element(sorted.begin(), sorted.begin() + (o.top_k - 1), sorted.end(), std::greater<float>());
      threshold = sorted[o.top_k - 1];
    }
    double sum = 0;
    for (int64_t v = 0; v < o.spec.vocab; ++v) {
      p[v] = last[v] >= threshold ? std::exp((last[v] - mx) / o.temperature) : 0.0;
      sum += p[v];
    }
    double u = rng.uniform(n) * sum, acc = 0;
    int32_t next = static_cast<int32_t>(o.spec.vocab - 1);
    for (int64_t v = 0; v < o.spec.vocab; ++v) {
      acc += p[v];
      if (u < acc) {
        next = static_cast<int32_t>(v);
        break;
      }
    }
    ids.push_back(next);
    std::fputc(next, stdout);
    std::fflush(stdout);
  }
  fmt::print("\n");
  return 0;
}

const bool registered = register_command(
    {"generate", "Sample text from a GPT saved by `paraxis train --save`", [](CLI::App& sub) -> Runner {
       auto o = std::make_shared<GenerateOptions>();
       add_model_flags(sub, o->spec);
       sub.add_option("--init", o->init, "Parameters of the GPT (safetensors)")->required();
       sub.add_option("--prompt", o->prompt, "Text to continue")->capture_default_str();
       sub.add_option("--tokens", o->tokens, "Bytes to generate")->capture_default_str();
       sub.add_option("--temperature", o->temperature, "Softmax temperature")->capture_default_str();
       sub.add_option("--top-k", o->top_k, "Sample among the k most likely bytes (0: all)")
           ->capture_default_str();
       sub.add_option("--seed", o->seed, "Sampling seed")->capture_default_str();
       return [o] {
         validate_model_spec(o->spec);
         return generate(*o);
       };
     }});

}  // namespace
}  // namespace paraxis::cli
