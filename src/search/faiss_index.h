// Internal: the FAISS structures behind AnnStructure (ann_structure.h): IVF-PQ lists, and the HNSW
// graphs of indexes built with FAISS (before hnswlib built them; CLIPEMBED_HNSW_LIBRARY=faiss
// still builds one, to compare the two). FAISS exceptions never leave this module: they become
// clipembed::Error.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "clipembed/index.h"
#include "search/ann_structure.h"

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

// The settings an index of `count` vectors of `dimension` is built with: the automatic sizes
// (nlist, pq_m) resolved and everything checked (kInvalidArgument: pq_m must divide the
// dimension, ivfpq needs 256 vectors to train its codebooks, the target recall is in (0, 1]).
// A zero hnsw_ef_search or ivf_nprobe stays zero: tune_search() chooses it once the index exists.
IndexSettings resolve_settings(IndexSettings settings, size_t count, int dimension);

// An empty FAISS structure of `settings` (ivfpq, or hnsw) for normalized vectors (inner product =
// cosine), trained on an evenly spaced sample of the `count` `vectors` where it needs training.
std::unique_ptr<AnnStructure> create_faiss_structure(const IndexSettings& settings,
                                                     const float* vectors, size_t count,
                                                     int dimension);

// Reads a structure written by a FAISS structure's write() (IVF lists memory-mapped), which must
// hold vectors of `dimension`. `row_of` maps its positions to rows (empty: the same). Throws
// Error(kIndexInvalid) for a missing, truncated or foreign file.
std::unique_ptr<AnnStructure> load_faiss_structure(const std::string& path,
                                                   const IndexSettings& settings, int dimension,
                                                   std::vector<int64_t> row_of);

}  // namespace clipembed::search
