#include "search/faiss_index.h"

#include <faiss/IndexFlat.h>
#include <faiss/IndexHNSW.h>
#include <faiss/IndexIVFPQ.h>
#include <faiss/impl/AuxIndexStructures.h>
#include <faiss/impl/FaissException.h>
#include <faiss/index_io.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "clipembed/error.h"

namespace clipembed::search {
namespace {

using idx_t = faiss::Index::idx_t;  // FAISS 1.7.3 spells the row type here.

// Codebook entries of each product quantizer (8 bits per sub-vector code).
constexpr size_t kPqCentroids = 256;
// Vectors the coarse quantizer and codebooks train on: FAISS asks for 39 per list at least; more
// only costs time.
constexpr size_t kTrainPerList = 64;
// Queries per FAISS range search call in pairs_above(), bounding the result's memory.
constexpr size_t kRangeChunk = 4096;

// OpenMP threads for the FAISS calls made on this thread, restored afterwards.
class OmpThreads {
 public:
  explicit OmpThreads(int threads) : saved_(omp_get_max_threads()) { omp_set_num_threads(threads); }
  ~OmpThreads() { omp_set_num_threads(saved_); }
  OmpThreads(const OmpThreads&) = delete;
  OmpThreads& operator=(const OmpThreads&) = delete;

 private:
  int saved_;
};

}  // namespace

IndexSettings resolve_settings(IndexSettings s, size_t count, int dimension) {
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
  if (s.ivf_nprobe == 0) s.ivf_nprobe = std::max(1, s.ivf_nlist / 4);
  return s;
}

void build_faiss_index(const IndexSettings& s, const float* vectors, size_t count, int dimension,
                       int threads, const std::string& path) {
  const OmpThreads omp(std::max(1, threads));
  const auto n = static_cast<idx_t>(count);
  try {
    std::unique_ptr<faiss::Index> index;
    if (s.type == IndexType::kHnsw) {
      auto hnsw =
          std::make_unique<faiss::IndexHNSWFlat>(dimension, s.hnsw_m, faiss::METRIC_INNER_PRODUCT);
      hnsw->hnsw.efConstruction = s.hnsw_ef_construction;
      hnsw->hnsw.efSearch = s.hnsw_ef_search;
      index = std::move(hnsw);
    } else if (s.type == IndexType::kIvfPq) {
      auto* quantizer = new faiss::IndexFlatIP(dimension);
      auto ivf = std::make_unique<faiss::IndexIVFPQ>(
          quantizer, dimension, static_cast<size_t>(s.ivf_nlist), static_cast<size_t>(s.pq_m), 8,
          faiss::METRIC_INNER_PRODUCT);
      ivf->own_fields = true;
      ivf->nprobe = static_cast<size_t>(s.ivf_nprobe);
      ivf->cp.verbose = false;
      // An evenly spaced sample: the rows come in input order, which is often by folder.
      const size_t sample =
          std::min(count, std::max(kPqCentroids, kTrainPerList * static_cast<size_t>(s.ivf_nlist)));
      std::vector<float> train(sample * static_cast<size_t>(dimension));
      for (size_t i = 0; i < sample; ++i) {
        std::copy_n(vectors + (i * count / sample) * static_cast<size_t>(dimension), dimension,
                    train.data() + i * static_cast<size_t>(dimension));
      }
      ivf->train(static_cast<idx_t>(sample), train.data());
      index = std::move(ivf);
    } else {
      index = std::make_unique<faiss::IndexFlatIP>(dimension);
    }
    index->add(n, vectors);
    faiss::write_index(index.get(), path.c_str());
  } catch (const faiss::FaissException& e) {
    throw Error(ErrorCode::kInternal, std::string("FAISS could not build the index: ") + e.what());
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
  if (auto* hnsw = dynamic_cast<faiss::IndexHNSW*>(index.get())) {
    hnsw->hnsw.efSearch = s.hnsw_ef_search;
  } else if (auto* ivf = dynamic_cast<faiss::IndexIVF*>(index.get())) {
    ivf->nprobe = static_cast<size_t>(s.ivf_nprobe);
  }
  return index;
}

void search_faiss(const faiss::Index& index, const float* queries, size_t count, size_t k,
                  std::vector<int64_t>& rows, std::vector<float>& scores) {
  const OmpThreads omp(1);
  rows.assign(count * k, -1);
  scores.assign(count * k, 0);
  static_assert(sizeof(idx_t) == sizeof(int64_t));
  try {
    index.search(static_cast<idx_t>(count), queries, static_cast<idx_t>(k), scores.data(),
                 reinterpret_cast<idx_t*>(rows.data()));
  } catch (const faiss::FaissException& e) {
    throw Error(ErrorCode::kInternal, std::string("FAISS search failed: ") + e.what());
  }
}

std::vector<std::pair<size_t, size_t>> pairs_above(const float* vectors, size_t count,
                                                   int dimension, float threshold) {
  const OmpThreads omp(1);
  std::vector<std::pair<size_t, size_t>> pairs;
  try {
    faiss::IndexFlatIP index(dimension);
    index.add(static_cast<idx_t>(count), vectors);
    for (size_t start = 0; start < count; start += kRangeChunk) {
      const size_t n = std::min(kRangeChunk, count - start);
      faiss::RangeSearchResult result(static_cast<idx_t>(n));
      index.range_search(static_cast<idx_t>(n), vectors + start * static_cast<size_t>(dimension),
                         threshold, &result);
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
