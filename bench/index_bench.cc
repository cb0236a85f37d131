// Search indexes on random unit vectors (docs/perf.md): build time, query latency p50/p99 and
// memory per vector of each type, and recall@10 of the approximate ones against the exact (flat)
// results, through the library's IndexWriter and EmbeddingIndex.
//
//   build/bench/index_bench [VECTORS=200000] [QUERIES=1000] [DIMENSION=512] [TYPES=flat,hnsw,ivfpq]
#include <clipembed/clipembed.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

std::vector<float> random_unit_vectors(size_t count, int dim, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  std::vector<float> v(count * static_cast<size_t>(dim));
  for (float& x : v) x = normal(rng);
  for (size_t i = 0; i < count; ++i)
    clipembed::normalize_embedding({v.data() + i * dim, static_cast<size_t>(dim)});
  return v;
}

double percentile(std::vector<double> values, double p) {
  std::sort(values.begin(), values.end());
  return values[std::min(values.size() - 1,
                         static_cast<size_t>(p * static_cast<double>(values.size())))];
}

size_t env_or(const char* name, size_t fallback) {
  const char* value = std::getenv(name);
  return value != nullptr ? std::strtoull(value, nullptr, 10) : fallback;
}

}  // namespace

int main() {
  const size_t count = env_or("VECTORS", 200000), queries = env_or("QUERIES", 1000);
  const int dim = static_cast<int>(env_or("DIMENSION", 512));
  const char* types_env = std::getenv("TYPES");
  const std::string types = types_env != nullptr ? types_env : "flat,hnsw,ivfpq";
  const std::vector<float> data = random_unit_vectors(count, dim, 1);
  const std::vector<float> query = random_unit_vectors(queries, dim, 2);
  const std::string root = std::filesystem::temp_directory_path() / "clipembed-index-bench";
  std::filesystem::remove_all(root);
  clipembed::IndexInfo identity;
  identity.model = identity.model_hash = "random";
  identity.dimension = dim;
  identity.precision = "fp32";
  std::printf("%zu random unit vectors of dimension %d, %zu queries, %d threads\n", count, dim,
              queries, clipembed::shared_runtime().num_threads());
  std::vector<std::set<size_t>> exact;
  std::stringstream list(types);
  for (std::string type; std::getline(list, type, ',');) {
    const std::string dir = root + "/" + type;
    clipembed::IndexSettings settings;
    settings.type = clipembed::parse_index_type(type);
    clipembed::IndexWriter writer(dir, identity, settings);
    for (size_t i = 0; i < count; ++i) {
      writer.add(std::to_string(i), {data.data() + i * dim, static_cast<size_t>(dim)});
    }
    writer.flush();
    const auto started = Clock::now();
    const clipembed::IndexInfo info = writer.finish();
    const double build_s = std::chrono::duration<double>(Clock::now() - started).count();
    const auto index = clipembed::EmbeddingIndex::open(dir);
    std::vector<double> latency_ms;
    std::vector<std::set<size_t>> found(queries);
    for (size_t q = 0; q < queries; ++q) {
      const auto t = Clock::now();
      const auto hits = index->search({query.data() + q * dim, static_cast<size_t>(dim)}, 10)[0];
      latency_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t).count());
      for (const auto& hit : hits) found[q].insert(hit.row);
    }
    if (type == "flat") exact = found;
    double recall = 0;
    for (size_t q = 0; q < queries && !exact.empty(); ++q) {
      size_t hit = 0;
      for (size_t row : found[q]) hit += exact[q].count(row);
      recall += static_cast<double>(hit) / 10.0 / static_cast<double>(queries);
    }
    const double bytes = static_cast<double>(std::filesystem::file_size(dir + "/index.faiss"));
    const auto& s = info.resolved;
    std::printf(
        "%-5s build %7.1f s  query p50 %7.3f ms  p99 %7.3f ms  recall@10 %s  %6.0f bytes/vector "
        "in index.faiss  (hnsw M=%d efC=%d efS=%d; ivf nlist=%d pq_m=%d nprobe=%d rerank=%d; "
        "tuned on the build's sample to recall %.3f)\n",
        type.c_str(), build_s, percentile(latency_ms, 0.5), percentile(latency_ms, 0.99),
        exact.empty() ? "  -  " : (std::to_string(recall).substr(0, 5)).c_str(),
        bytes / static_cast<double>(count), s.hnsw_m, s.hnsw_ef_construction, s.hnsw_ef_search,
        s.ivf_nlist, s.pq_m, s.ivf_nprobe, s.ivf_rerank, info.estimated_recall);
    std::fflush(stdout);
  }
  std::filesystem::remove_all(root);
  return 0;
}
