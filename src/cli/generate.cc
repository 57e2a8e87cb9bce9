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

void check_options(const GenerateOptions& o) {
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
}

// The next token from the last position's logits: softmax at the temperature over the top k (all when 0).
int32_t sample_next(const float* last, const GenerateOptions& o, const Philox& rng, int64_t n) {
  const int64_t V = o.spec.vocab;
  std::vector<double> p(V);
  const double mx  = *std::max_element(last, last + V);
  double threshold = -INFINITY;
  if (o.top_k > 0) {
    std::vector<float> sorted(last, last + V);
    std::nth_element(sorted.begin(), sorted.begin() + (o.top_k - 1), sorted.end(), std::greater<float>());
    threshold = sorted[o.top_k - 1];
  }
  double sum = 0;
  for (int64_t v = 0; v < V; ++v)
    sum += p[v] = last[v] >= threshold ? std::exp((last[v] - mx) / o.temperature) : 0.0;
  double u = rng.uniform(n) * sum, acc = 0;
  for (int64_t v = 0; v < V; ++v)
    if (u < (acc += p[v])) return static_cast<int32_t>(v);
  return static_cast<int32_t>(V - 1);
}

// A byte-level model's tokens are bytes of text; a larger vocabulary's (GPT-2's 50,257) have no tokenizer
// here, so their ids are printed.
void emit(int32_t token, int64_t vocab) {
  if (vocab <= 256)
    std::fputc(token, stdout);
  else
    fmt::print(" [{}]", token);
  std::fflush(stdout);
}

int generate(const GenerateOptions& o) {
  check_options(o);
  auto model = build_model(o.spec);
  load_params(read_safetensors(o.init), model->params(), o.init);
  std::vector<int32_t> ids(o.prompt.begin(), o.prompt.end());
  for (int32_t& t : ids) t &= 0xff;
  for (int32_t t : ids)
    PX_USER_CHECK(t < o.spec.vocab, "the prompt has byte {} but the vocabulary is {}", t, o.spec.vocab);
  if (o.spec.vocab > 256)
    fmt::print(
        "vocabulary {}: no tokenizer here, so the prompt's bytes are its token ids and the sampled "
        "ids are printed in brackets\n",
        o.spec.vocab);
  fmt::print("{}", o.prompt);
  Philox rng(o.seed, stream_id("generate"));
  std::vector<Ctx> ctx;
  for (int64_t n = 0; n < o.tokens; ++n) {
    const int64_t T = std::min<int64_t>(static_cast<int64_t>(ids.size()), o.spec.context);
    Tensor x        = Tensor::from_ints({1, T}, std::vector<int32_t>(ids.end() - T, ids.end()));
    ctx.assign(model->blocks.size(), Ctx{});
    for (Ctx& c : ctx) c.training = false;
    Tensor logits = model->forward(ctx, x);  // (1, T, V)
    ids.push_back(sample_next(logits.data() + (T - 1) * o.spec.vocab, o, rng, n));
    emit(ids.back(), o.spec.vocab);
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
       sub.add_option("--tokens", o->tokens, "Tokens to generate (bytes for a byte-level model)")
           ->capture_default_str();
       sub.add_option("--temperature", o->temperature, "Softmax temperature")->capture_default_str();
       sub.add_option("--top-k", o->top_k, "Sample among the k most likely tokens (0: all)")
           ->capture_default_str();
       sub.add_option("--seed", o->seed, "Sampling seed")->capture_default_str();
       return [o] {
         validate_model_spec(o->spec);
         return generate(*o);
       };
     }});

}  // namespace
}  // namespace paraxis::cli
