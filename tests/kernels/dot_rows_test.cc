#include "kernels/dot_rows.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <vector>

#include "kernels/isa.h"
#include "kernels/kernel_test_support.h"
#include "kernels/scalar_reference.h"

namespace clipembed::kernels {
namespace {

std::vector<float> scores_of(Isa isa, const std::vector<float>& queries, int64_t query_count,
                             const std::vector<float>& rows, int64_t row_count, int64_t dim) {
  std::vector<float> scores(static_cast<size_t>(query_count * row_count), NAN);
  dot_rows(isa, queries.data(), query_count, rows.data(), row_count, dim, scores.data(), row_count);
  return scores;
}

// Dimensions below, at and past one step of sixteen lanes, with and without a partial step, and
// query and row counts that leave every edge tile of every path.
TEST(DotRowsTest, EverySimdPathEqualsTheScalarReferenceBitForBit) {
  if (testing::simd_paths().empty()) GTEST_SKIP() << "this CPU has no SIMD path";
  for (int64_t dim : {1, 7, 8, 15, 16, 17, 24, 33, 64, 100, 512, 515}) {
    for (int64_t query_count : {1, 2, 3, 5, 9}) {
      const int64_t row_count = 23;
      const auto queries = testing::random_floats(static_cast<size_t>(query_count * dim), 1);
      const auto rows = testing::random_floats(static_cast<size_t>(row_count * dim), 2);
      const auto expected = scores_of(Isa::kScalar, queries, query_count, rows, row_count, dim);
      for (Isa isa : testing::simd_paths()) {
        EXPECT_TRUE(testing::same_bits(scores_of(isa, queries, query_count, rows, row_count, dim),
                                       expected))
            << isa_name(isa) << ", dim " << dim << ", " << query_count << " queries";
      }
    }
  }
}

TEST(DotRowsTest, PortableAndFmaBuildsOfTheReferenceAgree) {
  if (!isa_supported(Isa::kAvx2)) GTEST_SKIP() << "this CPU has no FMA";
  const int64_t dim = 77, query_count = 3, row_count = 10;
  const auto queries = testing::random_floats(query_count * dim, 3);
  const auto rows = testing::random_floats(row_count * dim, 4);
  std::vector<float> portable(query_count * row_count), fma(query_count * row_count);
  dot_rows_scalar_portable(queries.data(), query_count, rows.data(), row_count, dim,
                           portable.data(), row_count);
  dot_rows_scalar_fma(queries.data(), query_count, rows.data(), row_count, dim, fma.data(),
                      row_count);
  EXPECT_TRUE(testing::same_bits(portable, fma));
}

// A score is the same whichever queries it is scored with and wherever its row starts.
TEST(DotRowsTest, AScoreIsTheSameAloneAndInAnyBlock) {
  const int64_t dim = 40, query_count = 7, row_count = 13;
  const auto queries = testing::random_floats(query_count * dim, 5);
  const auto rows = testing::random_floats(row_count * dim, 6);
  for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512}) {
    if (!isa_supported(isa)) continue;
    const auto all = scores_of(isa, queries, query_count, rows, row_count, dim);
    for (int64_t q = 0; q < query_count; ++q) {
      for (int64_t r = 0; r < row_count; ++r) {
        float alone = NAN;
        dot_rows(isa, queries.data() + q * dim, 1, rows.data() + r * dim, 1, dim, &alone, 1);
        const float pair = dot_function(isa)(queries.data() + q * dim, rows.data() + r * dim, dim);
        const auto expected = std::bit_cast<uint32_t>(all[static_cast<size_t>(q * row_count + r)]);
        EXPECT_EQ(std::bit_cast<uint32_t>(alone), expected)
            << isa_name(isa) << ", query " << q << ", row " << r;
        EXPECT_EQ(std::bit_cast<uint32_t>(pair), expected) << isa_name(isa) << ", one pair";
      }
    }
  }
}

TEST(DotRowsTest, ComputesTheInnerProduct) {
  const int64_t dim = 300;
  const auto a = testing::random_floats(dim, 7), b = testing::random_floats(2 * dim, 8);
  std::vector<float> scores(2);
  dot_rows(active_isa(), a.data(), 1, b.data(), 2, dim, scores.data(), 2);
  for (int64_t r = 0; r < 2; ++r) {
    double expected = 0;
    for (int64_t d = 0; d < dim; ++d) expected += double{a[d]} * b[r * dim + d];
    EXPECT_NEAR(scores[r], expected, 1e-4);
  }
}

}  // namespace
}  // namespace clipembed::kernels
