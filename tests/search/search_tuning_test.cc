// The automatic search settings of approximate indexes (IndexSettings::target_recall): chosen at
// build, recorded in index.json apart from what was asked, and reaching the target on queries the
// build never saw.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <random>
#include <set>

#include "clipembed/index.h"
#include "clipembed/model.h"
#include "support/fixtures.h"

namespace clipembed {
namespace {

namespace fs = std::filesystem;

constexpr int kDim = 32;

// Gaussian directions: no clusters, the hardest case for an approximate index.
std::vector<float> random_unit_vectors(size_t count, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  std::vector<float> v(count * kDim);
  for (float& x : v) x = normal(rng);
  for (size_t i = 0; i < count; ++i) normalize_embedding({v.data() + i * kDim, size_t{kDim}});
  return v;
}

IndexInfo build(const std::string& name, const std::vector<float>& vectors,
                const IndexSettings& settings) {
  const std::string dir = testing::temp_path(name);
  fs::remove_all(dir);
  IndexInfo identity;
  identity.model = identity.model_hash = "random";
  identity.dimension = kDim;
  identity.precision = "fp32";
  IndexWriter writer(dir, identity, settings);
  for (size_t i = 0; i < vectors.size() / kDim; ++i) {
    writer.add(std::to_string(i), {vectors.data() + i * kDim, size_t{kDim}});
  }
  return writer.finish();
}

// Recall@10 of the index at `dir` for `queries` against brute force over `vectors`.
double recall_at_10(const std::string& dir, const std::vector<float>& vectors,
                    const std::vector<float>& queries) {
  const auto index = EmbeddingIndex::open(dir);
  const size_t count = vectors.size() / kDim, n = queries.size() / kDim;
  const auto hits = index->search(queries, 10);
  size_t found = 0;
  for (size_t q = 0; q < n; ++q) {
    std::vector<std::pair<float, size_t>> all;
    for (size_t i = 0; i < count; ++i) {
      float dot = 0;
      for (int d = 0; d < kDim; ++d) dot += vectors[i * kDim + d] * queries[q * kDim + d];
      all.emplace_back(-dot, i);
    }
    std::partial_sort(all.begin(), all.begin() + 10, all.end());
    std::set<size_t> exact;
    for (int r = 0; r < 10; ++r) exact.insert(all[r].second);
    for (const SearchHit& hit : hits[q]) found += exact.count(hit.row);
  }
  return static_cast<double>(found) / static_cast<double>(n * 10);
}

class SearchTuningTest : public ::testing::TestWithParam<const char*> {};

TEST_P(SearchTuningTest, TunedSettingsReachTheTargetOnUnseenQueries) {
  const std::vector<float> vectors = random_unit_vectors(6000, 1);
  const std::vector<float> queries = random_unit_vectors(300, 2);
  IndexSettings settings;
  settings.type = parse_index_type(GetParam());
  settings.hnsw_m = 16;
  settings.ivf_nlist = 64;
  settings.pq_m = 16;
  settings.target_recall = 0.9;
  const std::string name = std::string("tuning-") + GetParam();
  const IndexInfo info = build(name, vectors, settings);
  const bool hnsw = settings.type == IndexType::kHnsw;
  // What was asked stays automatic (a later `index add` tunes again); what was chosen is kept.
  EXPECT_EQ(hnsw ? info.settings.hnsw_ef_search : info.settings.ivf_nprobe, 0);
  const int chosen = hnsw ? info.resolved.hnsw_ef_search : info.resolved.ivf_nprobe;
  EXPECT_GT(chosen, 0);
  EXPECT_GE(info.estimated_recall, 0.9);
  if (!hnsw) {
    EXPECT_EQ(info.settings.ivf_rerank, 0);
    EXPECT_GE(info.resolved.ivf_rerank, 10);
  }
  // Random data does not let a tiny setting pass: the tuning had to search.
  EXPECT_GT(chosen, hnsw ? 16 : 1);
  const auto opened = EmbeddingIndex::open(testing::temp_path(name));
  EXPECT_EQ(opened->info().resolved.hnsw_ef_search, info.resolved.hnsw_ef_search);
  EXPECT_EQ(opened->info().resolved.ivf_nprobe, info.resolved.ivf_nprobe);
  EXPECT_DOUBLE_EQ(opened->info().estimated_recall, info.estimated_recall);
  // Queries the tuning never saw: within the sample's noise of the target.
  EXPECT_GE(recall_at_10(testing::temp_path(name), vectors, queries), 0.87);

  // A higher target never chooses less; a setting given explicitly is kept and only measured.
  settings.target_recall = 0.99;
  const IndexInfo higher = build(name + "-higher", vectors, settings);
  EXPECT_GE(hnsw ? higher.resolved.hnsw_ef_search : higher.resolved.ivf_nprobe, chosen);
  EXPECT_GE(higher.estimated_recall, 0.99);
  (hnsw ? settings.hnsw_ef_search : settings.ivf_nprobe) = hnsw ? 16 : 1;
  const IndexInfo given = build(name + "-given", vectors, settings);
  EXPECT_EQ(hnsw ? given.resolved.hnsw_ef_search : given.resolved.ivf_nprobe, hnsw ? 16 : 1);
  EXPECT_LT(given.estimated_recall, info.estimated_recall);
}

INSTANTIATE_TEST_SUITE_P(Approximate, SearchTuningTest, ::testing::Values("hnsw", "ivfpq"));

TEST(SearchTuningTest, FlatNeedsNoTuning) {
  const IndexInfo info = build("tuning-flat", random_unit_vectors(500, 3), {});
  EXPECT_EQ(info.resolved.hnsw_ef_search, 0);
  EXPECT_EQ(info.resolved.ivf_nprobe, 0);
  EXPECT_EQ(info.estimated_recall, 1);
}

}  // namespace
}  // namespace clipembed
