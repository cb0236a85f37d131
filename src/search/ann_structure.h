// Internal: an approximate search structure over the rows of an index's vectors.npy (an HNSW
// graph, IVF-PQ lists), behind one interface so that building, tuning (search_tuning.h) and
// searching do not depend on the library that holds it (hnsw_structure.h, faiss_index.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "clipembed/index.h"

namespace clipembed::search {

class AnnStructure {
 public:
  virtual ~AnnStructure() = default;
  // Adds the `rows` of `vectors` ([*, dimension]), in that order.
  virtual void add(const float* vectors, std::span<const int64_t> rows) = 0;
  // Sets the search-time settings (hnsw_ef_search, ivf_nprobe) from `settings`.
  virtual void apply(const IndexSettings& settings) = 0;
  // Up to `wanted` candidates for each of `count` normalized queries, best first:
  // rows[q * wanted + i], -1 past the last found, with their scores (cosines as the structure
  // estimates them). `threads` > 1 spreads the queries over the shared runtime.
  virtual void candidates(const float* queries, size_t count, size_t wanted, int threads,
                          int64_t* rows, float* scores) const = 0;
  // Writes the structure to `path` (a temporary name; the caller renames it durably). Throws
  // Error(kIo) when the file is not complete on disk.
  virtual void write(const std::string& path) const = 0;
  virtual size_t size() const = 0;
  virtual size_t dimension() const = 0;
  // The structure's file name in an index directory.
  virtual const char* file_name() const = 0;
};

// The min(k, rows) best (row, score) of each of `count` queries (normalized), best first. With
// `exact` (the index's vectors by row) and rerank > 0, the k x rerank best candidates are
// re-scored exactly from `exact` and the best k of those kept. Rows are -1 past an approximate
// structure's hits.
void search_ranked(const AnnStructure& structure, const float* exact, int rerank,
                   const float* queries, size_t count, size_t k, int threads,
                   std::vector<int64_t>& rows, std::vector<float>& scores);

// The inner product of two normalized vectors in double precision: the score every re-ranking and
// recall check uses, so that they agree.
double exact_cosine(const float* a, const float* b, size_t dimension);

// An empty structure of `settings` (hnsw or ivfpq) for `count` normalized vectors of `dimension`,
// trained where it needs training on an evenly spaced sample of `vectors`.
std::unique_ptr<AnnStructure> create_structure(const IndexSettings& settings, const float* vectors,
                                               size_t count, int dimension);

// Reads the structure of the index at `directory` that holds `count` vectors of `dimension`, and
// applies the search-time settings. `row_of` maps a FAISS structure's positions to rows (empty:
// the same). Throws Error(kIndexInvalid) for a missing, truncated or foreign file.
std::unique_ptr<AnnStructure> load_structure(const std::string& directory,
                                             const IndexSettings& settings, size_t count,
                                             int dimension, std::vector<int64_t> row_of);

}  // namespace clipembed::search
