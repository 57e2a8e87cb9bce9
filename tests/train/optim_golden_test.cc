// Replays tests/golden/optim_golden.txt (written by make_optim_goldens.py with torch 1.13) through paraxis's
// SGD, AdamW and clip_grad_norm and compares every parameter after every step.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <sstream>

#include "paraxis/nn/optim.h"
#include "test_support/paths.h"

using namespace paraxis;

namespace {

struct GoldenCase {
  std::string name, kind;
  std::map<std::string, double> hyper;
  std::vector<std::string> order;  // parameter names in file order
  std::map<std::string, Shape> shapes;
  std::map<std::string, std::vector<float>> init;
  std::map<int, double> lr;
  std::map<int, std::map<std::string, std::vector<float>>> grad, after;
  std::map<int, double> norm;
};

std::vector<float> read_floats(std::istringstream& in) {
  std::vector<float> v;
  double x;
  while (in >> x) v.push_back(static_cast<float>(x));
  return v;
}

std::vector<GoldenCase> load_goldens() {
  std::ifstream f(paraxis::testing::source_dir() + "/tests/golden/optim_golden.txt");
  EXPECT_TRUE(f.good()) << "tests/golden/optim_golden.txt missing; run tests/golden/make_optim_goldens.py";
  std::string line;
  std::getline(f, line);
  EXPECT_EQ(line.rfind("paraxis-optim-golden v1 torch=", 0), 0u) << "bad header: " << line;
  std::vector<GoldenCase> cases;
  while (std::getline(f, line)) {
    std::istringstream in(line);
    std::string tag;
    in >> tag;
    if (tag == "case") {
      cases.emplace_back();
      in >> cases.back().name >> cases.back().kind;
      std::string kv;
      while (in >> kv) {
        auto eq                              = kv.find('=');
        cases.back().hyper[kv.substr(0, eq)] = std::stod(kv.substr(eq + 1));
      }
      continue;
    }
    if (tag == "end" || tag.empty()) continue;
    GoldenCase& c = cases.back();
    if (tag == "param") {
      std::string name;
      int ndim;
      in >> name >> ndim;
      Shape s(ndim);
      for (auto& d : s) in >> d;
      c.order.push_back(name);
      c.shapes[name] = s;
    } else if (tag == "value") {
      std::string name;
      in >> name;
      c.init[name] = read_floats(in);
    } else if (tag == "lr" || tag == "norm") {
      int step;
      double v;
      in >> step >> v;
      (tag == "lr" ? c.lr : c.norm)[step] = v;
    } else if (tag == "grad" || tag == "after") {
      int step;
      std::string name;
      in >> step >> name;
      (tag == "grad" ? c.grad : c.after)[step][name] = read_floats(in);
    } else {
      ADD_FAILURE() << "unknown golden record: " << line;
    }
  }
  return cases;
}

std::vector<Param> make_params(const GoldenCase& c) {
  std::vector<Param> params;
  for (const auto& name : c.order) {
    params.push_back(make_param(name, c.shapes.at(name)));
    params.back().value = Tensor::from_vector(c.shapes.at(name), c.init.at(name));
  }
  return params;
}

void expect_close(const std::vector<float>& got, const std::vector<float>& want, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i)
    EXPECT_NEAR(got[i], want[i], 1e-7 + 1e-6 * std::abs(want[i])) << what << " element " << i;
}

}  // namespace

TEST(OptimGolden, FileHasEveryCase) {
  auto cases = load_goldens();
  std::vector<std::string> names;
  for (auto& c : cases) names.push_back(c.name);
  EXPECT_EQ(names,
            (std::vector<std::string>{"sgd_momentum_wd", "sgd_plain", "sgd_varying_lr", "adamw_default",
                                      "adamw_varying_lr", "clip_active", "clip_inactive"}));
}

TEST(OptimGolden, SgdAndAdamWMatchPyTorchEveryStep) {
  int checked = 0;
  for (const GoldenCase& c : load_goldens()) {
    if (c.kind != "sgd" && c.kind != "adamw") continue;
    std::vector<Param> params = make_params(c);
    std::vector<Param*> ptrs;
    for (auto& p : params) ptrs.push_back(&p);
    std::unique_ptr<Optimizer> opt;
    if (c.kind == "sgd")
      opt = std::make_unique<Sgd>(ptrs, SgdOptions{c.hyper.at("momentum"), c.hyper.at("weight_decay")});
    else
      opt = std::make_unique<AdamW>(ptrs, AdamWOptions{c.hyper.at("beta1"), c.hyper.at("beta2"),
                                                       c.hyper.at("eps"), c.hyper.at("weight_decay")});
    ASSERT_EQ(c.lr.size(), 5u) << c.name;
    for (const auto& [step, lr] : c.lr) {
      for (auto& p : params) p.grad = Tensor::from_vector(p.value.shape(), c.grad.at(step).at(p.name));
      opt->step(lr);
      for (auto& p : params) {
        expect_close(p.value.to_vector(), c.after.at(step).at(p.name),
                     c.name + " step " + std::to_string(step) + " " + p.name);
        ++checked;
      }
    }
  }
  EXPECT_EQ(checked, 5 * 5 * 2);
}

TEST(OptimGolden, ClipGradNormMatchesPyTorch) {
  int checked = 0;
  for (const GoldenCase& c : load_goldens()) {
    if (c.kind != "clip") continue;
    std::vector<Param> params = make_params(c);
    std::vector<Param*> ptrs;
    for (auto& p : params) {
      p.grad = Tensor::from_vector(p.value.shape(), c.grad.at(0).at(p.name));
      ptrs.push_back(&p);
    }
    float total = clip_grad_norm(ptrs, c.hyper.at("max_norm"));
    EXPECT_NEAR(total, c.norm.at(0), 1e-5 * c.norm.at(0)) << c.name;
    for (auto& p : params) expect_close(p.grad.to_vector(), c.after.at(0).at(p.name), c.name + " " + p.name);
    ++checked;
  }
  EXPECT_EQ(checked, 2);
}
