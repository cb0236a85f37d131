#include "kernels/layer_norm.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

namespace clipembed::kernels {
namespace {

// Rows of the input and of the output sit at different strides (the encoder pads its activations'
// rows); the padding between rows is never read into a row's sums nor written.
TEST(LayerNormTest, MatchesDoublePrecisionDefinition) {
  std::mt19937 rng(3);
  std::normal_distribution<float> dist(5.0f, 3.0f);  // A large mean tests the centred variance.
  const int rows = 11, dim = 77, in_ld = dim + 3, out_ld = dim + 5;
  const float kPadding = 1e6f;
  std::vector<float> x(rows * in_ld, kPadding), gamma(dim), beta(dim), out(rows * out_ld, 0.0f);
  for (int r = 0; r < rows; ++r) {
    for (int i = 0; i < dim; ++i) x[r * in_ld + i] = dist(rng);
  }
  for (int i = 0; i < dim; ++i) gamma[i] = 0.5f + i * 0.01f, beta[i] = -0.1f * i;
  // Rows 1 to 9: one group of eight rows and a single row.
  layer_norm(x.data(), in_ld, out.data(), out_ld, dim, 1, 10, gamma.data(), beta.data(), 1e-5f);
  for (int r = 0; r < rows; ++r) {
    double mean = 0, var = 0;
    for (int i = 0; i < dim; ++i) mean += x[r * in_ld + i];
    mean /= dim;
    for (int i = 0; i < dim; ++i) var += (x[r * in_ld + i] - mean) * (x[r * in_ld + i] - mean);
    var /= dim;
    for (int i = 0; i < out_ld; ++i) {
      if (r < 1 || r >= 10 || i >= dim) {
        EXPECT_EQ(out[r * out_ld + i], 0.0f) << "written outside the rows [1, 10) of dim floats";
        continue;
      }
      const double expected =
          (x[r * in_ld + i] - mean) / std::sqrt(var + 1e-5) * gamma[i] + beta[i];
      EXPECT_NEAR(out[r * out_ld + i], expected, 1e-4) << "row " << r << ", column " << i;
    }
  }
}

}  // namespace
}  // namespace clipembed::kernels
