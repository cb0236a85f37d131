#include "ops/linear.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "kernels/gemm.h"

namespace clipembed::ops {
namespace {

// The split across runtime threads must give the same result as one reference product.
TEST(LinearTest, MatchesReferenceWithBiasActivationAndResidual) {
  Runtime runtime(RuntimeOptions{.threads = 3});
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> dist(-1, 1);
  const int64_t m = 9, in = 40, out = 200;
  std::vector<float> x(m * in), w(out * in), b(out), residual(m * out);
  for (auto* v : {&x, &w, &b, &residual}) {
    for (float& f : *v) f = dist(rng);
  }
  const LinearWeights weights{w.data(), b.data(), in, out};

  std::vector<float> expected(m * out);
  kernels::gemm_reference(m, out, in, 1.0f, x.data(), in, w.data(), in, true, 0.0f, expected.data(),
                          out);
  std::vector<float> y(m * out);
  linear(runtime, x.data(), m, weights, y.data(), kernels::Activation::kQuickGelu);
  for (int64_t i = 0; i < m * out; ++i) {
    ASSERT_NEAR(y[i], kernels::quick_gelu(expected[i] + b[i % out]), 1e-4);
  }
  std::vector<float> acc = residual;
  linear(runtime, x.data(), m, weights, acc.data(), kernels::Activation::kNone, true);
  for (int64_t i = 0; i < m * out; ++i) {
    ASSERT_NEAR(acc[i], residual[i] + expected[i] + b[i % out], 1e-4);
  }
}

}  // namespace
}  // namespace clipembed::ops
