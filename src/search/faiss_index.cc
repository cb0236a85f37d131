#include "search/faiss_index.h"

#include <faiss/IndexFlat.h>
#include <faiss/IndexHNSW.h>
#include <faiss/IndexIVFPQ.h>
#include <faiss/impl/AuxIndexStructures.h>
#include <faiss/impl/FaissException.h>
#include <faiss/index_io.h>
#include <faiss/utils/distances.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <span>

#include "clipembed/error.h"

namespace clipembed::search {
namespace {

using idx_t = faiss::Index::idx_t;  // FAISS 1.7.3 spells the row type here.

// Codebook entries of each product quantizer (8 bits per sub-vector code).
constexpr size_t kPqCentroids = 256;
// Vectors the coarse quantizer and codebooks train on: FAISS asks for 39 per list at least; more
// only costs time.
constexpr size_t kTrainPerList = 64;
// Rows gathered (in the structure's order) per FAISS add call.
constexpr size_t kAddChunk = 8192;
// Queries per FAISS range search call in pairs_above(), bounding the result's memory.
constexpr size_t kRangeChunk = 4096;

}  // namespace

OmpThreads::OmpThreads(int threads) : saved_(omp_get_max_threads()) {
  omp_set_num_threads(threads);
}
OmpThreads::~OmpThreads() { omp_set_num_threads(saved_); }

double exact_cosine(const float* a, const float* b, size_t dimension) {
  double sum = 0;
  for (size_t d = 0; d < dimension; ++d) sum += double{a[d]} * b[d];
  return sum;
}

IndexSettings resolve_settings(IndexSettings s, size_t count, int dimension) {
  if (!(s.target_recall > 0 && s.target_recall <= 1)) {
    throw Error(ErrorCode::kInvalidArgument, "the target recall must be in (0, 1]");
  }
  if (s.type != IndexType::kIvfPq) return s;
  if (s.pq_m == 0) s.pq_m = std::max(1, dimension / 4);
  if (dimension % s.pq_m != 0) {
    throw Error(ErrorCode::kInvalidArgument, "--pq-m " + std::to_string(s.pq_m) +
                                                 " does not divide the dimension " +
                                                 std::to_string(dimension));
  }
  if (count < kPqCentroids) {
    throw Error(ErrorCode::kInvalidArgument,
                "an ivfpq index trains on its vectors and needs at least " +
                    std::to_string(kPqCentroids) + " (this one has " + std::to_string(count) +
                    "); use --index-type flat or hnsw for small collections");
  }
  if (s.ivf_nlist == 0) {
    s.ivf_nlist = static_cast<int>(
        std::clamp<double>(std::round(4 * std::sqrt(count)), 1, static_cast<double>(count) / 39));
  }
  s.ivf_nlist = std::max(1, s.ivf_nlist);
  s.ivf_nprobe = std::min(s.ivf_nprobe, s.ivf_nlist);  // Zero (tuned) stays zero.
  return s;
}

std::unique_ptr<faiss::Index> create_faiss_index(const IndexSettings& s, const float* vectors,
                                                 size_t count, int dimension, int threads) {
  const OmpThreads omp(std::max(1, threads));
  try {
    if (s.type == IndexType::kHnsw) {
      auto hnsw =
          std::make_unique<faiss::IndexHNSWFlat>(dimension, s.hnsw_m, faiss::METRIC_INNER_PRODUCT);
      hnsw->hnsw.efConstruction = s.hnsw_ef_construction;
      return hnsw;
    }
    if (s.type == IndexType::kIvfPq) {
      auto* quantizer = new faiss::IndexFlatIP(dimension);
      auto ivf = std::make_unique<faiss::IndexIVFPQ>(
          quantizer, dimension, static_cast<size_t>(s.ivf_nlist), static_cast<size_t>(s.pq_m), 8,
          faiss::METRIC_INNER_PRODUCT);
      ivf->own_fields = true;
      // FAISS prints a warning on stderr when a sample has fewer than 39 vectors per centroid;
      // the sample sizes are chosen here (resolve_settings() refuses fewer vectors than
      // centroids), so a small collection trains on what it has, silently.
      ivf->cp.min_points_per_centroid = 1;
      ivf->pq.cp.min_points_per_centroid = 1;
      // An evenly spaced sample: the rows come in input order, which is often by folder.
      const size_t sample = std::min(
          count,
          std::max(kPqCentroids * kTrainPerList, kTrainPerList * static_cast<size_t>(s.ivf_nlist)));
      std::vector<float> train(sample * static_cast<size_t>(dimension));
      for (size_t i = 0; i < sample; ++i) {
        std::copy_n(vectors + (i * count / sample) * static_cast<size_t>(dimension), dimension,
                    train.data() + i * static_cast<size_t>(dimension));
      }
      ivf->train(static_cast<idx_t>(sample), train.data());
      return ivf;
    }
    return std::make_unique<faiss::IndexFlatIP>(dimension);
  } catch (const faiss::FaissException& e) {
    throw Error(ErrorCode::kInternal, std::string("FAISS could not build the index: ") + e.what());
  }
}

void add_rows(faiss::Index& index, const float* vectors, std::span<const int64_t> rows,
              int threads) {
  const OmpThreads omp(std::max(1, threads));
  const auto dim = static_cast<size_t>(index.d);
  std::vector<float> chunk;
  try {
    for (size_t start = 0; start < rows.size(); start += kAddChunk) {
      const size_t n = std::min(kAddChunk, rows.size() - start);
      chunk.resize(n * dim);
      for (size_t i = 0; i < n; ++i) {
        std::copy_n(vectors + static_cast<size_t>(rows[start + i]) * dim, dim,
                    chunk.data() + i * dim);
      }
      index.add(static_cast<idx_t>(n), chunk.data());
    }
  } catch (const faiss::FaissException& e) {
    throw Error(ErrorCode::kInternal, std::string("FAISS could not build the index: ") + e.what());
  }
}

void apply_search_settings(faiss::Index& index, const IndexSettings& s) {
  if (auto* hnsw = dynamic_cast<faiss::IndexHNSW*>(&index)) {
    hnsw->hnsw.efSearch = s.hnsw_ef_search;
  } else if (auto* ivf = dynamic_cast<faiss::IndexIVF*>(&index)) {
    ivf->nprobe = static_cast<size_t>(s.ivf_nprobe);
  }
}

void write_faiss_index(const faiss::Index& index, const std::string& path) {
  try {
    faiss::write_index(&index, path.c_str());
  } catch (const faiss::FaissException& e) {
    throw Error(ErrorCode::kIo, "cannot write " + path + ": " + e.what());
  }
}

std::unique_ptr<faiss::Index> load_faiss_index(const std::string& path, const IndexSettings& s) {
  if (!std::filesystem::exists(path)) {
    throw Error(ErrorCode::kIndexInvalid, path +
                                              " is missing: finish the index with "
                                              "clipembed index add");
  }
  std::unique_ptr<faiss::Index> index;
  try {
    // IVF lists are memory-mapped (the pages of the lists a query visits are read on demand);
    // FAISS reads the other types into memory.
    const int flags = s.type == IndexType::kIvfPq ? faiss::IO_FLAG_MMAP : 0;
    index.reset(faiss::read_index(path.c_str(), flags));
  } catch (const faiss::FaissException& e) {
    throw Error(ErrorCode::kIndexInvalid, path +
                                              " is not a readable FAISS index (truncated or "
                                              "damaged): " +
                                              e.what());
  }
  apply_search_settings(*index, s);
  return index;
}

void search_ranked(const faiss::Index& index, const int64_t* row_of, const float* exact, int rerank,
                   const float* queries, size_t count, size_t k, int threads,
                   std::vector<int64_t>& rows, std::vector<float>& scores) {
  const OmpThreads omp(std::max(1, threads));
  const auto total = static_cast<size_t>(index.ntotal);
  const auto dim = static_cast<size_t>(index.d);
  k = std::min(k, total);
  // With re-ranking, more candidates than asked for are scored exactly and the best k kept.
  const size_t wanted =
      exact != nullptr && rerank > 0 ? std::min(total, k * static_cast<size_t>(rerank)) : k;
  std::vector<int64_t> found(count * wanted, -1);
  std::vector<float> found_scores(count * wanted, 0);
  static_assert(sizeof(idx_t) == sizeof(int64_t));
  try {
    index.search(static_cast<idx_t>(count), queries, static_cast<idx_t>(wanted),
                 found_scores.data(), reinterpret_cast<idx_t*>(found.data()));
  } catch (const faiss::FaissException& e) {
    throw Error(ErrorCode::kInternal, std::string("FAISS search failed: ") + e.what());
  }
  rows.assign(count * k, -1);
  scores.assign(count * k, 0);
  std::vector<std::pair<float, int64_t>> ranked;
  for (size_t q = 0; q < count; ++q) {
    ranked.clear();
    for (size_t r = 0; r < wanted; ++r) {
      const int64_t position = found[q * wanted + r];
      if (position < 0) continue;  // An approximate index found fewer.
      const int64_t row = row_of != nullptr ? row_of[position] : position;
      float score = found_scores[q * wanted + r];
      if (wanted != k) {
        score = static_cast<float>(
            exact_cosine(exact + static_cast<size_t>(row) * dim, queries + q * dim, dim));
      }
      ranked.emplace_back(score, row);
    }
    // FAISS's order is kept among equal scores.
    std::stable_sort(ranked.begin(), ranked.end(),
                     [](const auto& a, const auto& b) { return a.first > b.first; });
    for (size_t r = 0; r < std::min(k, ranked.size()); ++r) {
      scores[q * k + r] = ranked[r].first;
      rows[q * k + r] = ranked[r].second;
    }
  }
}

std::vector<std::pair<size_t, size_t>> pairs_above(const float* vectors, size_t count,
                                                   int dimension, float threshold) {
  const OmpThreads omp(1);
  std::vector<std::pair<size_t, size_t>> pairs;
  try {
    // FAISS's brute-force range search over the (memory-mapped) vectors in place: what a flat
    // index's range_search runs, without the copy of every vector that adding them to one makes.
    const auto d = static_cast<size_t>(dimension);
    for (size_t start = 0; start < count; start += kRangeChunk) {
      const size_t n = std::min(kRangeChunk, count - start);
      faiss::RangeSearchResult result(static_cast<idx_t>(n));
      faiss::range_search_inner_product(vectors + start * d, vectors, d, n, count, threshold,
                                        &result);
      for (size_t q = 0; q < n; ++q) {
        for (size_t r = result.lims[q]; r < result.lims[q + 1]; ++r) {
          const auto other = static_cast<size_t>(result.labels[r]);
          // Both directions are kept: the two products of a pair may round apart.
          if (other != start + q) {
            pairs.emplace_back(std::min(start + q, other), std::max(start + q, other));
          }
        }
      }
    }
  } catch (const faiss::FaissException& e) {
    throw Error(ErrorCode::kInternal, std::string("FAISS range search failed: ") + e.what());
  }
  return pairs;
}

}  // namespace clipembed::search
