// measure_conv_times (measure.h): a convolution call's three passes, timed as measure_layer_times times a
// Linear's.
#include <chrono>

#include "measure/timed_calls.h"
#include "paraxis/core/tensor.h"
#include "paraxis/kernels/conv.h"
#include "paraxis/measure/measure.h"

namespace paraxis::measure {
namespace {

// One set of a convolution's buffers, the engine's own (64-byte aligned) tensors: x (N, Cin, H, W), w, bias,
// y and dy (N, Cout, OH, OW), dx, dw, db.
struct ConvBuffers {
  Tensor x, w, bias, y, dy, dx, dw, db;
  explicit ConvBuffers(const Conv2dShape& s)
      : x(Tensor::full({s.n, s.cin, s.h, s.w}, 0.5f)),
        w(Tensor::full({s.cout, s.cin, s.k, s.k}, 0.01f)),
        bias(Tensor::zeros({s.cout})),
        y(Tensor::empty({s.n, s.cout, s.oh(), s.ow()})),
        dy(Tensor::full({s.n, s.cout, s.oh(), s.ow()}, 0.5f)),
        dx(Tensor::empty({s.n, s.cin, s.h, s.w})),
        dw(Tensor::zeros({s.cout, s.cin, s.k, s.k})),
        db(Tensor::zeros({s.cout})) {}
};

}  // namespace

double conv_call_flops(const Conv2dShape& s) {
  return 2.0 * static_cast<double>(s.n) * s.cout * s.oh() * s.ow() * s.cin * s.k * s.k;
}

PassTimes measure_conv_times(const Conv2dShape& s, int reps, const std::function<void()>& sync,
                             double reuse_bytes) {
  const double flops = conv_call_flops(s);
  if (reps <= 0) reps = calls_for(flops);
  const double x_elems = static_cast<double>(s.n) * s.cin * s.h * s.w;
  const double y_elems = static_cast<double>(s.n) * s.cout * s.oh() * s.ow();
  const double w_elems = static_cast<double>(s.cout) * s.cin * s.k * s.k;
  const int sets       = buffer_sets(4.0 * 2.0 * (x_elems + y_elems + w_elems), reuse_bytes);
  std::vector<ConvBuffers> buf;
  for (int i = 0; i < sets; ++i) buf.emplace_back(s);
  int next  = 0;
  auto time = [&](auto&& f) { return timed_calls(buf, next, reps, sync, f); };
  PassTimes p;
  p.rows  = static_cast<double>(s.n);
  p.flops = flops;
  p.pass[0] =
      time([&](ConvBuffers& b) { conv2d_forward(b.y.data(), b.x.data(), b.w.data(), b.bias.data(), s); });
  p.pass[1] = time([&](ConvBuffers& b) { conv2d_backward_data(b.dx.data(), b.dy.data(), b.w.data(), s); });
  p.pass[2] = time(
      [&](ConvBuffers& b) { conv2d_backward_weights(b.dw.data(), b.db.data(), b.dy.data(), b.x.data(), s); });
  return p;
}

}  // namespace paraxis::measure
