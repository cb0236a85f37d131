#include "kernels/quantize.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "kernels/isa.h"
#include "kernels/quantize_simd.h"

namespace clipembed::kernels {
namespace {

// Rows of varied shapes: Gaussian, all positive, all negative, all zero, one outlier, a NaN and
// an infinity (rows 0 to 6; at least 6 columns).
std::vector<float> test_rows(int rows, int cols) {
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0.0f, 1.5f);
  std::vector<float> x(static_cast<size_t>(rows) * cols);
  for (float& v : x) v = normal(rng);
  for (int c = 0; c < cols; ++c) {
    x[1 * cols + c] = std::fabs(x[1 * cols + c]) + 0.5f;
    x[2 * cols + c] = -std::fabs(x[2 * cols + c]);
    x[3 * cols + c] = 0.0f;
  }
  x[4 * cols + std::min(5, cols - 1)] = 300.0f;
  x[5 * cols + cols - 1] = std::numeric_limits<float>::quiet_NaN();  // In the tail, if any.
  x[6 * cols + std::min(3, cols - 1)] = -std::numeric_limits<float>::infinity();
  return x;
}

TEST(QuantizeTest, ActivationCodesReconstructWithinHalfAStep) {
  const int rows = 5, cols = 37;  // The finite rows of test_rows().
  const auto x = test_rows(7, cols);
  std::vector<uint8_t> q(rows * cols);
  std::vector<float> scale(rows);
  std::vector<int32_t> zero(rows);
  quantize_activation_rows(x.data(), cols, cols, 0, rows, kActivationCodeMax, q.data(), cols,
                           scale.data(), zero.data());
  for (int r = 0; r < rows; ++r) {
    for (int c = 0; c < cols; ++c) {
      const float back = scale[r] * static_cast<float>(q[r * cols + c] - zero[r]);
      ASSERT_NEAR(back, x[r * cols + c], 0.5f * scale[r] * 1.0001f) << r << "," << c;
    }
  }
  EXPECT_EQ(zero[1], 0);                   // All positive: 0 is the lowest code.
  EXPECT_EQ(zero[2], kActivationCodeMax);  // All negative: 0 is the highest.
  EXPECT_EQ(scale[3], 1.0f);               // All zero.
  for (int c = 0; c < cols; ++c) EXPECT_EQ(q[3 * cols + c], zero[3]);
}

TEST(QuantizeTest, WeightCodesAreSymmetricAndSummed) {
  const int rows = 5, cols = 37;
  const auto x = test_rows(7, cols);
  std::vector<int8_t> q(rows * cols);
  std::vector<float> scale(rows);
  std::vector<int32_t> sum(rows);
  quantize_weight_rows(x.data(), cols, 0, rows, kWeightCodeMax, q.data(), scale.data(), sum.data());
  for (int r = 0; r < rows; ++r) {
    int32_t total = 0;
    for (int c = 0; c < cols; ++c) {
      const int code = q[r * cols + c];
      ASSERT_LE(std::abs(code), kWeightCodeMax);
      ASSERT_NEAR(scale[r] * static_cast<float>(code), x[r * cols + c], 0.5f * scale[r] * 1.0001f);
      total += code;
    }
    EXPECT_EQ(sum[r], total);
  }
  EXPECT_EQ(q[4 * cols + 5], kWeightCodeMax);  // The outlier takes the top code.
}

TEST(QuantizeTest, NonFiniteRowsGetNanScales) {
  const int cols = 37;
  const auto x = test_rows(7, cols);
  std::vector<uint8_t> qa(7 * cols);
  std::vector<int8_t> qw(7 * cols);
  std::vector<float> sa(7), sw(7);
  std::vector<int32_t> za(7), cw(7);
  quantize_activation_rows(x.data(), cols, cols, 0, 7, kActivationCodeMax, qa.data(), cols,
                           sa.data(), za.data());
  quantize_weight_rows(x.data(), cols, 0, 7, kWeightCodeMax, qw.data(), sw.data(), cw.data());
  for (int r : {5, 6}) {
    EXPECT_TRUE(std::isnan(sa[r])) << r;
    EXPECT_TRUE(std::isnan(sw[r])) << r;
  }
  EXPECT_FALSE(std::isnan(sa[4]));
}

// Every SIMD path against the scalar reference: identical codes, scales, zero points and sums.
TEST(QuantizeTest, SimdPathsEqualScalarBitForBit) {
  if (!isa_supported(Isa::kAvx2)) GTEST_SKIP() << "CPU without AVX2/FMA";
  for (int cols : {37, 768, 6, 16, 31, 3072}) {
    const int rows = 7, ld = cols + 3;
    const auto dense = test_rows(rows, cols);
    std::vector<float> x(static_cast<size_t>(rows) * ld, 9.0f);
    for (int r = 0; r < rows; ++r) {
      for (int c = 0; c < cols; ++c) x[r * ld + c] = dense[r * cols + c];
    }
    std::vector<uint8_t> qa(rows * cols), qa_ref(rows * cols);
    std::vector<float> sa(rows), sa_ref(rows);
    std::vector<int32_t> za(rows), za_ref(rows);
    quantize_activation_rows_avx2(x.data(), ld, cols, 0, rows, kActivationCodeMax, qa.data(), cols,
                                  sa.data(), za.data());
    quantize_activation_rows_scalar(x.data(), ld, cols, 0, rows, kActivationCodeMax, qa_ref.data(),
                                    cols, sa_ref.data(), za_ref.data());
    EXPECT_EQ(qa, qa_ref) << cols;
    EXPECT_EQ(za, za_ref) << cols;
    for (int r = 0; r < rows; ++r) {
      if (!std::isnan(sa_ref[r])) {
        EXPECT_EQ(sa[r], sa_ref[r]) << r;
      }
      EXPECT_EQ(std::isnan(sa[r]), std::isnan(sa_ref[r])) << r;
    }
    if (isa_supported(Isa::kAvx512)) {
      std::fill(qa.begin(), qa.end(), 0);
      quantize_activation_rows_avx512(x.data(), ld, cols, 0, rows, kActivationCodeMax, qa.data(),
                                      cols, sa.data(), za.data());
      EXPECT_EQ(qa, qa_ref) << "avx512 " << cols;
      EXPECT_EQ(za, za_ref) << "avx512 " << cols;
      for (int r = 0; r < rows; ++r) {
        EXPECT_EQ(std::isnan(sa[r]), std::isnan(sa_ref[r])) << "avx512 " << r;
        if (!std::isnan(sa_ref[r])) {
          EXPECT_EQ(sa[r], sa_ref[r]) << "avx512 " << r;
        }
      }
    }

    std::vector<int8_t> qw(rows * cols), qw_ref(rows * cols);
    std::vector<float> sw(rows), sw_ref(rows);
    std::vector<int32_t> cw(rows), cw_ref(rows);
    quantize_weight_rows_avx2(dense.data(), cols, 0, rows, kWeightCodeMax, qw.data(), sw.data(),
                              cw.data());
    quantize_weight_rows_scalar(dense.data(), cols, 0, rows, kWeightCodeMax, qw_ref.data(),
                                sw_ref.data(), cw_ref.data());
    EXPECT_EQ(qw, qw_ref) << cols;
    EXPECT_EQ(cw, cw_ref) << cols;
    for (int r = 0; r < rows; ++r) {
      if (!std::isnan(sw_ref[r])) {
        EXPECT_EQ(sw[r], sw_ref[r]) << r;
      }
    }
  }
}

}  // namespace
}  // namespace clipembed::kernels
