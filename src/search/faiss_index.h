// Internal: the FAISS structures behind an index (include/clipembed/index.h). FAISS exceptions
// never leave this module: they become clipembed::Error.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "clipembed/index.h"

namespace faiss {
struct Index;
}  // namespace faiss

namespace clipembed::search {

// OpenMP threads for the FAISS calls made on this thread, restored afterwards.
class OmpThreads {
 public:
  explicit OmpThreads(int threads);
  ~OmpThreads();
  OmpThreads(const OmpThreads&) = delete;
  OmpThreads& operator=(const OmpThreads&) = delete;

 private:
  int saved_;
};

// The inner product of two normalized vectors in double precision: the score every re-ranking and
// recall check uses, so that they agree.
double exact_cosine(const float* a, const float* b, size_t dimension);

// The settings an index of `count` vectors of `dimension` is built with: the automatic sizes
// (nlist, pq_m) resolved and everything checked (kInvalidArgument: pq_m must divide the
// dimension, ivfpq needs 256 vectors to train its codebooks, the target recall is in (0, 1]).
// A zero hnsw_ef_search or ivf_nprobe stays zero: tune_search() chooses it once the index exists.
IndexSettings resolve_settings(IndexSettings settings, size_t count, int dimension);

// An empty structure of `settings` for normalized vectors (inner product = cosine), trained on
// an evenly spaced sample of the `count` `vectors` where it needs training, using `threads`
// OpenMP threads.
std::unique_ptr<faiss::Index> create_faiss_index(const IndexSettings& settings,
                                                 const float* vectors, size_t count, int dimension,
                                                 int threads);
// Adds the `rows` of `vectors` to the structure, in that order.
void add_rows(faiss::Index& index, const float* vectors, std::span<const int64_t> rows,
              int threads);
// Sets the search-time settings (hnsw_ef_search, ivf_nprobe) of a built or loaded structure.
void apply_search_settings(faiss::Index& index, const IndexSettings& settings);
void write_faiss_index(const faiss::Index& index, const std::string& path);

// Reads a structure written by write_faiss_index (IVF lists memory-mapped) and applies the
// search-time settings. Throws Error(kIndexInvalid) for a missing, truncated or foreign file.
std::unique_ptr<faiss::Index> load_faiss_index(const std::string& path,
                                               const IndexSettings& settings);

// The min(k, rows) best (row, score) of each of `count` queries (normalized), best first, with
// `threads` OpenMP threads. `row_of` maps the structure's positions to rows (null: the same).
// With `exact` (the index's vectors by row) and rerank > 0, the k x rerank best candidates of the
// structure are re-scored exactly from `exact` and the best k of those kept. Rows are -1 past an
// approximate index's hits.
void search_ranked(const faiss::Index& index, const int64_t* row_of, const float* exact, int rerank,
                   const float* queries, size_t count, size_t k, int threads,
                   std::vector<int64_t>& rows, std::vector<float>& scores);

// Pairs (i, j), i < j (possibly repeated), of `count` vectors whose inner product is above
// `threshold`, found by an exact range search.
std::vector<std::pair<size_t, size_t>> pairs_above(const float* vectors, size_t count,
                                                   int dimension, float threshold);

}  // namespace clipembed::search
