#include "search/hnsw_structure.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <numeric>
#include <random>
#include <set>
#include <vector>

#include "clipembed/error.h"
#include "search/exact_scan.h"
#include "support/fixtures.h"

namespace clipembed::search {
namespace {

namespace fs = std::filesystem;

// `count` unit vectors around `count / 20` random centres: neighbourhoods a graph can learn.
std::vector<float> clustered(size_t count, size_t dim, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  std::vector<float> centres((count / 20 + 1) * dim), v(count * dim);
  for (float& x : centres) x = normal(rng);
  for (size_t i = 0; i < count; ++i) {
    double norm = 0;
    for (size_t d = 0; d < dim; ++d) {
      v[i * dim + d] = centres[(i % (count / 20 + 1)) * dim + d] + 0.3f * normal(rng);
      norm += double{v[i * dim + d]} * v[i * dim + d];
    }
    for (size_t d = 0; d < dim; ++d) v[i * dim + d] /= static_cast<float>(std::sqrt(norm));
  }
  return v;
}

double recall_at(const AnnStructure& graph, const std::vector<float>& vectors,
                 const std::vector<float>& queries, size_t dim, size_t k) {
  const size_t count = queries.size() / dim;
  std::vector<int64_t> rows, exact_rows;
  std::vector<float> scores, exact_scores;
  search_ranked(graph, nullptr, 0, queries.data(), count, k, 2, rows, scores);
  exact_search(vectors.data(), vectors.size() / dim, dim, queries.data(), count, k, exact_rows,
               exact_scores);
  size_t found = 0;
  for (size_t q = 0; q < count; ++q) {
    const std::set<int64_t> truth(exact_rows.begin() + q * k, exact_rows.begin() + (q + 1) * k);
    for (size_t i = 0; i < k; ++i) found += truth.count(rows[q * k + i]);
  }
  return static_cast<double>(found) / static_cast<double>(count * k);
}

// A graph built in two parts, searched from the runtime's threads, written and read back; the
// same rows always give the same graph. (Not run under ThreadSanitizer: graphs are built from one
// thread, and hnswlib's per-element std::mutex arrays, never destroyed as pthread mutexes, make its
// deadlock detector see lock cycles across graphs that reuse their memory.)
TEST(HnswStructureTest, ABuiltGraphFindsTheNeighboursAndReadsBackTheSame) {
  const size_t dim = 24, count = 3000;
  const auto vectors = clustered(count, dim, 1);
  const auto queries = clustered(100, dim, 2);
  IndexSettings settings{
      .type = IndexType::kHnsw, .hnsw_m = 16, .hnsw_ef_construction = 64, .hnsw_ef_search = 64};
  auto graph = create_hnsw_structure(settings, count, static_cast<int>(dim));
  std::vector<int64_t> rows(count);
  std::iota(rows.begin(), rows.end(), int64_t{0});
  // In two parts, the second from the middle of the rows, as an index build adds its sample last.
  graph->add(vectors.data(), std::span<const int64_t>(rows).first(count - 300));
  graph->add(vectors.data(), std::span<const int64_t>(rows).last(300));
  graph->apply(settings);
  ASSERT_EQ(graph->size(), count);
  EXPECT_GE(recall_at(*graph, vectors, queries, dim, 10), 0.95);
  // Scores are the kernel's products: a row found for itself scores as the exact scan does.
  std::vector<int64_t> found(1);
  std::vector<float> score(1), exact_score;
  std::vector<int64_t> exact_row;
  graph->candidates(vectors.data() + 7 * dim, 1, 1, 1, found.data(), score.data());
  exact_search(vectors.data(), count, dim, vectors.data() + 7 * dim, 1, 1, exact_row, exact_score);
  EXPECT_EQ(found[0], 7);
  EXPECT_EQ(score[0], exact_score[0]);

  const std::string path = clipembed::testing::temp_path("graph.hnsw");
  graph->write(path);
  auto again = create_hnsw_structure(settings, count, static_cast<int>(dim));
  again->add(vectors.data(), std::span<const int64_t>(rows).first(count - 300));
  again->add(vectors.data(), std::span<const int64_t>(rows).last(300));
  const std::string again_path = clipembed::testing::temp_path("again.hnsw");
  again->write(again_path);
  std::ifstream a_file(path, std::ios::binary), b_file(again_path, std::ios::binary);
  EXPECT_TRUE(std::equal(std::istreambuf_iterator<char>(a_file), std::istreambuf_iterator<char>(),
                         std::istreambuf_iterator<char>(b_file), std::istreambuf_iterator<char>()))
      << "two builds of the same rows differ";
  auto read = load_hnsw_structure(path, settings, static_cast<int>(dim));
  std::vector<int64_t> a, b;
  std::vector<float> sa, sb;
  search_ranked(*graph, nullptr, 0, queries.data(), 100, 10, 1, a, sa);
  search_ranked(*read, nullptr, 0, queries.data(), 100, 10, 2, b, sb);
  EXPECT_EQ(a, b);
  EXPECT_EQ(sa, sb);

  // Another dimension, a cut file, an empty one: typed errors before anything is allocated.
  EXPECT_THROW(load_hnsw_structure(path, settings, static_cast<int>(dim) + 1), Error);
  fs::resize_file(path, fs::file_size(path) - 3);
  try {
    load_hnsw_structure(path, settings, static_cast<int>(dim));
    ADD_FAILURE() << "a truncated graph was read";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kIndexInvalid) << e.what();
  }
  fs::resize_file(path, 0);
  EXPECT_THROW(load_hnsw_structure(path, settings, static_cast<int>(dim)), Error);
}

}  // namespace
}  // namespace clipembed::search
