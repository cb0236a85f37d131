#include "search/exact_scan.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <utility>
#include <vector>

#include "kernels/dot_rows.h"

namespace clipembed::search {
namespace {

std::vector<float> unit_vectors(size_t count, size_t dim, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  std::vector<float> v(count * dim);
  for (size_t i = 0; i < count; ++i) {
    double norm = 0;
    for (size_t d = 0; d < dim; ++d) norm += std::pow(v[i * dim + d] = normal(rng), 2);
    for (size_t d = 0; d < dim; ++d) v[i * dim + d] /= static_cast<float>(std::sqrt(norm));
  }
  return v;
}

// The expected ranking, by sorting every row's kernel score (higher first, then the lower row).
std::vector<std::pair<float, int64_t>> ranked_by_sorting(const std::vector<float>& vectors,
                                                         size_t dim, const float* query) {
  const size_t count = vectors.size() / dim;
  std::vector<float> scores(count);
  kernels::dot_rows(kernels::active_isa(), query, 1, vectors.data(), static_cast<int64_t>(count),
                    static_cast<int64_t>(dim), scores.data(), static_cast<int64_t>(count));
  std::vector<std::pair<float, int64_t>> ranked;
  for (size_t r = 0; r < count; ++r) ranked.emplace_back(-scores[r], static_cast<int64_t>(r));
  std::sort(ranked.begin(), ranked.end());
  return ranked;
}

// 20,000 rows: several runtime chunks, whose best rows are merged.
TEST(ExactScanTest, FindsTheBestRowsOfEveryQueryAcrossChunks) {
  const size_t dim = 48, count = 20000, queries = 37, k = 12;
  const auto vectors = unit_vectors(count, dim, 1);
  const auto query = unit_vectors(queries, dim, 2);
  std::vector<int64_t> rows;
  std::vector<float> scores;
  exact_search(vectors.data(), count, dim, query.data(), queries, k, rows, scores);
  ASSERT_EQ(rows.size(), queries * k);
  for (size_t q = 0; q < queries; ++q) {
    const auto expected = ranked_by_sorting(vectors, dim, query.data() + q * dim);
    for (size_t i = 0; i < k; ++i) {
      EXPECT_EQ(rows[q * k + i], expected[i].second) << "query " << q << ", rank " << i;
      EXPECT_EQ(scores[q * k + i], -expected[i].first);
    }
  }
  // One query alone gets the same rows and the same bits as in the batch.
  std::vector<int64_t> alone_rows;
  std::vector<float> alone_scores;
  exact_search(vectors.data(), count, dim, query.data() + 5 * dim, 1, k, alone_rows, alone_scores);
  EXPECT_TRUE(std::equal(alone_rows.begin(), alone_rows.end(), rows.begin() + 5 * k));
  EXPECT_TRUE(std::equal(alone_scores.begin(), alone_scores.end(), scores.begin() + 5 * k));
}

TEST(ExactScanTest, EqualScoresRankTheLowerRowFirstAndNanRowsNever) {
  const size_t dim = 4, count = 30000;
  std::vector<float> vectors(count * dim, 0.5f);  // Every row the same: every score ties.
  for (size_t d = 0; d < dim; ++d) vectors[9 * dim + d] = NAN;
  const std::vector<float> query(dim, 0.5f);
  std::vector<int64_t> rows;
  std::vector<float> scores;
  exact_search(vectors.data(), count, dim, query.data(), 1, 20, rows, scores);
  const std::vector<int64_t> expected = {0,  1,  2,  3,  4,  5,  6,  7,  8,  10,
                                         11, 12, 13, 14, 15, 16, 17, 18, 19, 20};
  EXPECT_EQ(rows, expected);
  // k past the rows: every row but the NaN one, then an empty place.
  exact_search(vectors.data(), 12, dim, query.data(), 1, 50, rows, scores);
  ASSERT_EQ(rows.size(), 12u);
  EXPECT_EQ(rows[10], 11);
  EXPECT_EQ(rows[11], -1);
}

TEST(ExactScanTest, PairsAboveAThresholdAreEveryPairOnce) {
  const size_t dim = 20, count = 150;
  auto vectors = unit_vectors(count, dim, 3);
  // Rows 7 = 90 and 40 = 41 = 149: duplicates across query groups and row blocks.
  std::copy_n(vectors.begin() + 7 * dim, dim, vectors.begin() + 90 * dim);
  std::copy_n(vectors.begin() + 40 * dim, dim, vectors.begin() + 41 * dim);
  std::copy_n(vectors.begin() + 40 * dim, dim, vectors.begin() + 149 * dim);
  const auto pairs = exact_pairs_above(vectors.data(), count, dim, 0.999f);
  const std::vector<std::pair<size_t, size_t>> expected = {{7, 90}, {40, 41}, {40, 149}, {41, 149}};
  EXPECT_EQ(pairs, expected);
  EXPECT_TRUE(exact_pairs_above(vectors.data(), 0, dim, 0.5f).empty());
}

}  // namespace
}  // namespace clipembed::search
