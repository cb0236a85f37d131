#include "ops/layer_norm.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "kernels/layer_norm.h"

namespace clipembed::ops {
namespace {

// Split by rows over three threads, in place, the op equals the kernel run over all rows at once.
TEST(LayerNormOpTest, SplitInPlaceEqualsTheKernel) {
  Runtime runtime(RuntimeOptions{.threads = 3});
  std::mt19937 rng(2);
  std::normal_distribution<float> dist(0.5f, 2.0f);
  const int64_t rows = 37, dim = 24;
  std::vector<float> x(rows * dim), gamma(dim), beta(dim);
  for (auto* v : {&x, &gamma, &beta}) {
    for (float& f : *v) f = dist(rng);
  }
  std::vector<float> expected(x.size());
  kernels::layer_norm(x.data(), dim, expected.data(), dim, dim, 0, rows, gamma.data(), beta.data(),
                      1e-5f);
  layer_norm(runtime, x.data(), x.data(), rows, dim, gamma.data(), beta.data(), 1e-5f);
  EXPECT_EQ(x, expected);
}

}  // namespace
}  // namespace clipembed::ops
