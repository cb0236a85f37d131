// Search indexes (docs/perf.md): build time, query latency p50/p99 and bytes per vector of each
// type, recall@10 of the approximate ones against the exact (flat) results, through the
// library's IndexWriter and EmbeddingIndex; and the memory floor of an exact query: the time the
// runtime's threads take to read every vector once, measured between the flat index's queries.
//
//   build/bench/index_bench [VECTORS=200000] [QUERIES=1000] [DIMENSION=512] [TYPES=flat,hnsw,ivfpq]
//                           [COLLECTION=file.npy]
//
// The vectors are random unit vectors, or COLLECTION's rows (float32 [N, D], normalized, e.g.
// from bench/lifted_shapes.py): its first VECTORS rows are indexed and its last QUERIES rows are
// the queries.
#include <clipembed/clipembed.h>
#include <immintrin.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <span>
#include <sstream>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

std::vector<float> random_unit_vectors(size_t count, size_t dim, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  std::vector<float> v(count * dim);
  for (float& x : v) x = normal(rng);
  for (size_t i = 0; i < count; ++i) clipembed::normalize_embedding({v.data() + i * dim, dim});
  return v;
}

// The float32 [rows, cols] array of a .npy file (a little-endian '<f4' C-order array).
std::vector<float> read_npy(const std::string& path, size_t& rows, size_t& cols) {
  std::ifstream in(path, std::ios::binary);
  char magic[8];
  uint16_t header_size = 0;
  in.read(magic, 8);
  in.read(reinterpret_cast<char*>(&header_size), 2);
  std::string header(header_size, ' ');
  in.read(header.data(), header_size);
  const size_t shape = header.find("'shape': (");
  if (!in || header.find("'<f4'") == std::string::npos || shape == std::string::npos) {
    std::fprintf(stderr, "%s is not a float32 .npy file\n", path.c_str());
    std::exit(2);
  }
  rows = std::strtoull(header.c_str() + shape + 10, nullptr, 10);
  cols = std::strtoull(header.c_str() + header.find(',', shape) + 1, nullptr, 10);
  std::vector<float> v(rows * cols);
  in.read(reinterpret_cast<char*>(v.data()), static_cast<std::streamsize>(v.size() * 4));
  return v;
}

// The sum of n floats read as fast as this core reads: eight independent AVX2 sums where the CPU
// has AVX2 (so no add waits on another), else the compiler's loop.
__attribute__((target("avx2"))) float sum_avx2(const float* p, size_t n) {
  __m256 acc[8];
  for (auto& a : acc) a = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 64 <= n; i += 64) {
    for (int j = 0; j < 8; ++j) acc[j] = _mm256_add_ps(acc[j], _mm256_loadu_ps(p + i + 8 * j));
  }
  float lanes[8];
  for (int j = 1; j < 8; ++j) acc[0] = _mm256_add_ps(acc[0], acc[j]);
  _mm256_storeu_ps(lanes, acc[0]);
  float sum = 0;
  for (float lane : lanes) sum += lane;
  for (; i < n; ++i) sum += p[i];
  return sum;
}

float sum_plain(const float* p, size_t n) {
  float lanes[16] = {};
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    for (int l = 0; l < 16; ++l) lanes[l] += p[i + l];
  }
  float sum = 0;
  for (float lane : lanes) sum += lane;
  for (; i < n; ++i) sum += p[i];
  return sum;
}

// Reads every float of `v` (the index's own vectors.npy, memory-mapped, as the scan reads it) once
// on the runtime's threads, in the scan's chunks: the least time a scan of them can take.
double read_all_ms(std::span<const float> v) {
  const bool avx2 = __builtin_cpu_supports("avx2");
  const auto t = Clock::now();
  std::atomic<float> total{0};
  clipembed::shared_runtime().parallel_for(
      0, static_cast<int64_t>(v.size()),
      [&](int64_t begin, int64_t end) {
        const float* p = v.data() + begin;
        const auto n = static_cast<size_t>(end - begin);
        const float sum = avx2 ? sum_avx2(p, n) : sum_plain(p, n);
        total.store(total.load() + sum);  // Keeps the reads; the sum itself is not used.
      },
      int64_t{1} << 22);
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
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
  size_t count = env_or("VECTORS", 200000), queries = env_or("QUERIES", 1000);
  size_t dim = env_or("DIMENSION", 512);
  const char* types_env = std::getenv("TYPES");
  const std::string types = types_env != nullptr ? types_env : "flat,hnsw,ivfpq";
  std::vector<float> data, query;
  std::string what = "random unit vectors";
  if (const char* collection = std::getenv("COLLECTION")) {
    size_t rows = 0;
    data = read_npy(collection, rows, dim);
    queries = std::min(queries, rows / 2);
    count = std::min(count, rows - queries);
    query.assign(data.end() - static_cast<std::ptrdiff_t>(queries * dim), data.end());
    data.resize(count * dim);
    what = std::string("vectors of ") + collection;
  } else {
    data = random_unit_vectors(count, dim, 1);
    query = random_unit_vectors(queries, dim, 2);
  }
  const std::string root = std::filesystem::temp_directory_path() / "clipembed-index-bench";
  std::filesystem::remove_all(root);
  clipembed::IndexInfo identity;
  identity.model = identity.model_hash = "random";
  identity.dimension = static_cast<int>(dim);
  identity.precision = "fp32";
  std::printf("%zu %s of dimension %zu, %zu queries, %d threads\n", count, what.c_str(), dim,
              queries, clipembed::shared_runtime().num_threads());
  std::vector<std::set<size_t>> exact;
  std::stringstream list(types);
  for (std::string type; std::getline(list, type, ',');) {
    const std::string dir = root + "/" + type;
    clipembed::IndexSettings settings;
    settings.type = clipembed::parse_index_type(type);
    clipembed::IndexWriter writer(dir, identity, settings);
    for (size_t i = 0; i < count; ++i) writer.add(std::to_string(i), {data.data() + i * dim, dim});
    writer.flush();
    const auto started = Clock::now();
    const clipembed::IndexInfo info = writer.finish();
    const double build_s = std::chrono::duration<double>(Clock::now() - started).count();
    const auto index = clipembed::EmbeddingIndex::open(dir);
    // The rows as the index maps them (the scan's source), for the floor.
    const std::span<const float> mapped(index->vector(0).data(), count * dim);
    std::vector<double> latency_ms, floor_ms;
    std::vector<std::set<size_t>> found(queries);
    for (size_t q = 0; q < queries; ++q) {
      // Rounds of the floor alternate with the exact queries, so both see the same machine.
      if (type == "flat") floor_ms.push_back(read_all_ms(mapped));
      const auto t = Clock::now();
      const auto hits = index->search({query.data() + q * dim, dim}, 10)[0];
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
    // The search structure's bytes: a flat index searches vectors.npy itself.
    const std::string file = type == "flat"                                 ? "/vectors.npy"
                             : std::filesystem::exists(dir + "/index.hnsw") ? "/index.hnsw"
                                                                            : "/index.faiss";
    const double bytes = static_cast<double>(std::filesystem::file_size(dir + file));
    const auto& s = info.resolved;
    std::printf(
        "%-5s build %7.1f s  query p50 %7.3f ms  p99 %7.3f ms  recall@10 %s  %6.0f bytes/vector "
        "in %s  (hnsw M=%d efC=%d efS=%d; ivf nlist=%d pq_m=%d nprobe=%d rerank=%d; "
        "tuned on the build's sample to recall %.3f)\n",
        type.c_str(), build_s, percentile(latency_ms, 0.5), percentile(latency_ms, 0.99),
        exact.empty() ? "  -  " : (std::to_string(recall).substr(0, 5)).c_str(),
        bytes / static_cast<double>(count), file.c_str() + 1, s.hnsw_m, s.hnsw_ef_construction,
        s.hnsw_ef_search, s.ivf_nlist, s.pq_m, s.ivf_nprobe, s.ivf_rerank, info.estimated_recall);
    if (!floor_ms.empty()) {
      // Every query in one call (`search --queries-from`): the rows are read once per group of
      // queries, so the scan turns from memory-bound to compute-bound.
      const auto t = Clock::now();
      const auto all = index->search({query.data(), queries * dim}, 10);
      const double batch_ms = std::chrono::duration<double, std::milli>(Clock::now() - t).count();
      for (size_t q = 0; q < queries; ++q) {
        for (size_t i = 0; i < all[q].size(); ++i) {
          if (exact[q].count(all[q][i].row) == 0) {
            std::printf("the batched scan found another row for query %zu\n", q);
            return 1;
          }
        }
      }
      std::printf("      every query in one call: %.1f ms, %.3f ms a query\n", batch_ms,
                  batch_ms / static_cast<double>(queries));
      const double floor = percentile(floor_ms, 0.5);
      std::printf(
          "      memory floor (every vector read once) p50 %7.3f ms = %.1f GB/s; exact query p50 "
          "= %.2fx the floor\n",
          floor, static_cast<double>(count * dim * 4) / floor / 1e6,
          percentile(latency_ms, 0.5) / floor);
    }
    std::fflush(stdout);
  }
  std::filesystem::remove_all(root);
  return 0;
}
