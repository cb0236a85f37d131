#include "kernels/layer_norm.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

namespace clipembed::kernels {
namespace {

TEST(LayerNormTest, MatchesDoublePrecisionDefinition) {
  std::mt19937 rng(3);
  std::normal_distribution<float> dist(5.0f, 3.0f);  // A large mean tests the centred variance.
  const int rows = 5, dim = 77;
  std::vector<float> x(rows * dim), gamma(dim), beta(dim), out(rows * dim);
  for (float& v : x) v = dist(rng);
  for (int i = 0; i < dim; ++i) gamma[i] = 0.5f + i * 0.01f, beta[i] = -0.1f * i;
  layer_norm(x.data(), out.data(), dim, 1, 4, gamma.data(), beta.data(), 1e-5f);
  for (int r = 0; r < rows; ++r) {
    double mean = 0, var = 0;
    for (int i = 0; i < dim; ++i) mean += x[r * dim + i];
    mean /= dim;
    for (int i = 0; i < dim; ++i) var += (x[r * dim + i] - mean) * (x[r * dim + i] - mean);
    var /= dim;
    for (int i = 0; i < dim; ++i) {
      if (r < 1 || r >= 4) {
        EXPECT_EQ(out[r * dim + i], 0.0f) << "row outside [begin, end) was written";
        continue;
      }
      const double expected = (x[r * dim + i] - mean) / std::sqrt(var + 1e-5) * gamma[i] + beta[i];
      EXPECT_NEAR(out[r * dim + i], expected, 1e-4);
    }
  }
}

}  // namespace
}  // namespace clipembed::kernels
