#include "kernels/layer_norm.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <utility>
#include <vector>

#include "kernels/isa.h"
#include "kernels/kernel_test_support.h"

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

using Path = void (*)(const float*, int64_t, float*, int64_t, int64_t, int64_t, int64_t,
                      const float*, const float*, float);

Path path_of(Isa isa) { return isa == Isa::kAvx512 ? layer_norm_avx512 : layer_norm_avx2; }

// Every SIMD path sums each row in element order, as the scalar path does, so all give its bits:
// for row ranges that fill groups of 8 and 16 rows and leave partial ones, widths with and without
// a partial last group of columns, padded strides, and the output written over the input.
TEST(LayerNormTest, SimdPathsEqualTheScalarPathBitForBit) {
  const std::vector<Isa> paths = testing::simd_paths();
  if (paths.empty()) GTEST_SKIP() << "no SIMD path on this CPU";
  for (const int64_t dim : {1, 7, 8, 16, 17, 33, 512, 768, 771}) {
    const int64_t rows = 41, ld = dim + 3;
    std::vector<float> x = testing::random_floats(static_cast<size_t>(rows * ld), 7, 4.0f);
    for (float& v : x) v += 2.0f;  // A mean away from zero, as the residual stream has.
    const std::vector<float> gamma = testing::random_floats(static_cast<size_t>(dim), 8),
                             beta = testing::random_floats(static_cast<size_t>(dim), 9);
    for (const auto& [begin, end] :
         {std::pair<int64_t, int64_t>{0, 41}, {3, 19}, {5, 6}, {0, 16}, {2, 10}, {1, 40}}) {
      std::vector<float> expected(static_cast<size_t>(rows * ld), -1.0f);
      layer_norm_scalar(x.data(), ld, expected.data(), ld, dim, begin, end, gamma.data(),
                        beta.data(), 1e-5f);
      std::vector<float> expected_in_place = expected;
      for (int64_t r = 0; r < rows; ++r) {
        for (int64_t i = 0; i < ld; ++i) {
          const size_t at = static_cast<size_t>(r * ld + i);
          if (r < begin || r >= end || i >= dim) expected_in_place[at] = x[at];  // Left as it was.
        }
      }
      for (const Isa isa : paths) {
        std::vector<float> out(expected.size(), -1.0f);
        path_of(isa)(x.data(), ld, out.data(), ld, dim, begin, end, gamma.data(), beta.data(),
                     1e-5f);
        EXPECT_TRUE(testing::same_bits(out, expected))
            << isa_name(isa) << ", dim " << dim << ", rows [" << begin << ", " << end << ")";
        std::vector<float> in_place = x;
        path_of(isa)(in_place.data(), ld, in_place.data(), ld, dim, begin, end, gamma.data(),
                     beta.data(), 1e-5f);
        EXPECT_TRUE(testing::same_bits(in_place, expected_in_place))
            << isa_name(isa) << " in place, dim " << dim << ", rows [" << begin << ", " << end
            << ")";
      }
    }
  }
}

}  // namespace
}  // namespace clipembed::kernels
