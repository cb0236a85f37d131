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

#include "kernels/activation_simd.h"
#include "kernels/cpu_features.h"

namespace clipembed::kernels {
namespace {

// Every SIMD path against the scalar reference, over a range covering both tails of the
// activations and the lane remainder (37 columns).
TEST(ActivationTest, Avx2PathMatchesScalarReference) {
  if (!cpu_features().avx2_fma) GTEST_SKIP() << "CPU without AVX2/FMA";
  const int rows = 4, ld = 41;
  std::vector<float> input(rows * ld), bias(ld);
  for (int i = 0; i < rows * ld; ++i) input[i] = -12.0f + 24.0f * i / (rows * ld);
  for (int c = 0; c < ld; ++c) bias[c] = 0.01f * c - 0.2f;
  for (Activation act : {Activation::kNone, Activation::kQuickGelu, Activation::kGelu}) {
    for (const float* b :
         {static_cast<const float*>(nullptr), static_cast<const float*>(bias.data())}) {
      std::vector<float> simd = input, scalar = input;
      bias_activation_avx2(simd.data(), ld, 0, rows, 2, 39, b, act);
      bias_activation_scalar(scalar.data(), ld, 0, rows, 2, 39, b, act);
      for (int i = 0; i < rows * ld; ++i) {
        ASSERT_NEAR(simd[i], scalar[i], 2e-6f * (1.0f + std::abs(scalar[i])))
            << "act " << static_cast<int>(act) << " at " << i;
      }
    }
  }
}

}  // namespace
}  // namespace clipembed::kernels
