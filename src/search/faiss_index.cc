#include "search/faiss_index.h"

#include <faiss/IndexFlat.h>
#include <faiss/IndexHNSW.h>
#include <faiss/IndexIVFPQ.h>
#include <faiss/impl/FaissException.h>
#include <faiss/index_io.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "clipembed/error.h"
#include "clipembed/runtime.h"

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

class FaissStructure : public AnnStructure {
 public:
  FaissStructure(std::unique_ptr<faiss::Index> index, std::vector<int64_t> row_of)
      : index_(std::move(index)), row_of_(std::move(row_of)) {}

  void add(const float* vectors, std::span<const int64_t> rows) override {
    const OmpThreads omp(shared_runtime().num_threads());
    const auto dim = static_cast<size_t>(index_->d);
    std::vector<float> chunk;
    try {
      for (size_t start = 0; start < rows.size(); start += kAddChunk) {
        const size_t n = std::min(kAddChunk, rows.size() - start);
        chunk.resize(n * dim);
        for (size_t i = 0; i < n; ++i) {
          std::copy_n(vectors + static_cast<size_t>(rows[start + i]) * dim, dim,
                      chunk.data() + i * dim);
        }
        index_->add(static_cast<idx_t>(n), chunk.data());
        row_of_.insert(row_of_.end(), rows.begin() + static_cast<std::ptrdiff_t>(start),
                       rows.begin() + static_cast<std::ptrdiff_t>(start + n));
      }
    } catch (const faiss::FaissException& e) {
      throw Error(ErrorCode::kInternal,
                  std::string("FAISS could not build the index: ") + e.what());
    }
  }

  void apply(const IndexSettings& s) override {
    if (auto* hnsw = dynamic_cast<faiss::IndexHNSW*>(index_.get())) {
      hnsw->hnsw.efSearch = s.hnsw_ef_search;
    } else if (auto* ivf = dynamic_cast<faiss::IndexIVF*>(index_.get())) {
      ivf->nprobe = static_cast<size_t>(s.ivf_nprobe);
    }
  }

  void candidates(const float* queries, size_t count, size_t wanted, int threads, int64_t* rows,
                  float* scores) const override {
    const OmpThreads omp(std::max(1, threads));
    static_assert(sizeof(idx_t) == sizeof(int64_t));
    try {
      index_->search(static_cast<idx_t>(count), queries, static_cast<idx_t>(wanted), scores,
                     reinterpret_cast<idx_t*>(rows));
    } catch (const faiss::FaissException& e) {
      throw Error(ErrorCode::kInternal, std::string("FAISS search failed: ") + e.what());
    }
    if (row_of_.empty()) return;
    for (size_t i = 0; i < count * wanted; ++i) {
      if (rows[i] >= 0) rows[i] = row_of_[static_cast<size_t>(rows[i])];
    }
  }

  void write(const std::string& path) const override {
    try {
      faiss::write_index(index_.get(), path.c_str());
    } catch (const faiss::FaissException& e) {
      throw Error(ErrorCode::kIo, "cannot write " + path + ": " + e.what());
    }
  }

  size_t size() const override { return static_cast<size_t>(index_->ntotal); }
  size_t dimension() const override { return static_cast<size_t>(index_->d); }
  const char* file_name() const override { return "index.faiss"; }

 private:
  std::unique_ptr<faiss::Index> index_;
  // The row of each of the structure's positions; empty: the same.
  std::vector<int64_t> row_of_;
};

}  // namespace

OmpThreads::OmpThreads(int threads) : saved_(omp_get_max_threads()) {
  omp_set_num_threads(threads);
}
OmpThreads::~OmpThreads() { omp_set_num_threads(saved_); }

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

std::unique_ptr<AnnStructure> create_faiss_structure(const IndexSettings& s, const float* vectors,
                                                     size_t count, int dimension) {
  const OmpThreads omp(shared_runtime().num_threads());
  try {
    if (s.type == IndexType::kHnsw) {
      auto hnsw =
          std::make_unique<faiss::IndexHNSWFlat>(dimension, s.hnsw_m, faiss::METRIC_INNER_PRODUCT);
      hnsw->hnsw.efConstruction = s.hnsw_ef_construction;
      return std::make_unique<FaissStructure>(std::move(hnsw), std::vector<int64_t>{});
    }
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
    return std::make_unique<FaissStructure>(std::move(ivf), std::vector<int64_t>{});
  } catch (const faiss::FaissException& e) {
    throw Error(ErrorCode::kInternal, std::string("FAISS could not build the index: ") + e.what());
  }
}

std::unique_ptr<AnnStructure> load_faiss_structure(const std::string& path, const IndexSettings& s,
                                                   int dimension, std::vector<int64_t> row_of) {
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
  if (index->d != dimension) {
    throw Error(ErrorCode::kIndexInvalid, path + " holds vectors of dimension " +
                                              std::to_string(index->d) + ", not the index's " +
                                              std::to_string(dimension));
  }
  auto structure = std::make_unique<FaissStructure>(std::move(index), std::move(row_of));
  structure->apply(s);
  return structure;
}

}  // namespace clipembed::search
