#include "paraxis/nn/step_timer.h"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <random>
#include <vector>

#include "paraxis/core/error.h"

namespace paraxis {

namespace {
double thread_cpu_ms() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}
double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}
}  // namespace

double model_step_flops(Model& model, const Shape& in, bool skip_first_input) {
  double flops = 0;
  Shape s      = in;
  for (auto& b : model.blocks) {
    Cost c = b->cost(s);
    flops += c.fwd_flops + c.bwd_weight_flops +
             (skip_first_input && &b == &model.blocks[0] ? 0 : c.bwd_input_flops);
    s = b->output_shape(s);
  }
  return flops;
}

StepTiming time_forward_backward(const ModelSpec& spec, int64_t batch, int runs) {
  PX_USER_CHECK(batch >= 1, "--batch {} must be at least 1", batch);
  PX_USER_CHECK(runs >= 1, "--runs {} must be at least 1", runs);
  auto m = build_model(spec);
  m->init(1);
  std::mt19937 g(1);
  const Shape in        = m->input_shape(batch);
  const int64_t classes = spec.kind == "gpt"   ? spec.vocab
                          : spec.kind == "cnn" ? spec.classes
                                               : spec.mlp_sizes.back();
  Tensor x              = Tensor::empty(in, m->input_dtype());
  Tensor labels         = Tensor::empty(spec.kind == "gpt" ? in : Shape{batch}, DType::kI32);
  if (spec.kind == "gpt") {
    for (int64_t i = 0; i < x.numel(); ++i) x.data_i32()[i] = static_cast<int32_t>(g() % classes);
  } else {
    std::uniform_real_distribution<float> d(0, 1);
    for (int64_t i = 0; i < x.numel(); ++i) x.data()[i] = d(g);
  }
  for (int64_t i = 0; i < labels.numel(); ++i) labels.data_i32()[i] = static_cast<int32_t>(g() % classes);

  const std::string first     = m->blocks[0]->kind();
  const bool skip_first_input = first == "linear" || first == "conv2d";
  std::vector<double> wall, cpu;
  for (int it = 0; it < runs + 2; ++it) {  // two warm-up steps create the oneDNN primitives
    std::vector<Ctx> ctx;
    auto t0      = std::chrono::steady_clock::now();
    double c0    = thread_cpu_ms();
    Tensor out   = m->forward(ctx, x);
    LossResult r = softmax_cross_entropy(out, labels);
    // As the Engine and PyTorch do: the data needs no gradient, so the first block (when it is a linear or
    // convolution) runs only its weight pass.
    Tensor grad = m->backward(ctx, r.dlogits, 1);
    if (skip_first_input)
      m->blocks[0]->backward_weight(ctx[0], grad);
    else
      m->blocks[0]->backward(ctx[0], grad);
    double c1 = thread_cpu_ms();
    auto t1   = std::chrono::steady_clock::now();
    m->zero_grad();
    if (it < 2) continue;
    wall.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    cpu.push_back(c1 - c0);
  }
  StepTiming t;
  t.median_ms     = median(wall);
  t.median_cpu_ms = median(cpu);
  t.min_ms        = *std::min_element(wall.begin(), wall.end());
  t.gflop         = model_step_flops(*m, in, skip_first_input) / 1e9;
  t.runs          = runs;
  return t;
}

}  // namespace paraxis
