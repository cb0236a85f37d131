#include "kernels/activation.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace clipembed::kernels {
namespace {

TEST(ActivationTest, ScalarDefinitions) {
  for (double x : {-6.0, -1.5, -0.1, 0.0, 0.3, 2.0, 8.0}) {
    EXPECT_NEAR(quick_gelu(static_cast<float>(x)), x / (1 + std::exp(-1.702 * x)), 1e-6);
    EXPECT_NEAR(gelu(static_cast<float>(x)), 0.5 * x * (1 + std::erf(x / std::sqrt(2.0))), 1e-6);
  }
}

TEST(ActivationTest, BiasActivationTouchesOnlyTheSlice) {
  const int rows = 3, ld = 6;
  std::vector<float> x(rows * ld, 1.0f), bias(ld);
  for (int c = 0; c < ld; ++c) bias[c] = 0.25f * c;
  bias_activation(x.data(), ld, 0, rows, 2, 5, bias.data(), Activation::kGelu);
  for (int r = 0; r < rows; ++r) {
    for (int c = 0; c < ld; ++c) {
      const float expected = (c >= 2 && c < 5) ? gelu(1.0f + bias[c]) : 1.0f;
      EXPECT_FLOAT_EQ(x[r * ld + c], expected);
    }
  }
  std::vector<float> y = {1.0f, -2.0f};
  bias_activation(y.data(), 2, 0, 1, 0, 2, nullptr, Activation::kQuickGelu);
  EXPECT_FLOAT_EQ(y[0], quick_gelu(1.0f));
  EXPECT_FLOAT_EQ(y[1], quick_gelu(-2.0f));
}

}  // namespace
}  // namespace clipembed::kernels
