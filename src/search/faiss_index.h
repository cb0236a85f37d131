// Internal: the FAISS structures behind an index (include/clipembed/index.h). FAISS exceptions
// never leave this module: they become clipembed::Error.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "clipembed/index.h"

namespace faiss {
struct Index;
}  // namespace faiss

namespace clipembed::search {

// The settings an index of `count` vectors of `dimension` is built with: zeros (automatic)
// resolved, and checked (kInvalidArgument: pq_m must divide the dimension, ivfpq needs 256
// vectors to train its codebooks).
IndexSettings resolve_settings(IndexSettings settings, size_t count, int dimension);

// Builds the structure of `settings` over `count` normalized vectors (inner product = cosine) and
// writes it to `path`, using `threads` OpenMP threads.
void build_faiss_index(const IndexSettings& settings, const float* vectors, size_t count,
                       int dimension, int threads, const std::string& path);

// Reads a structure written by build_faiss_index (IVF lists memory-mapped) and applies the
// search-time settings. Throws Error(kIndexInvalid) for a missing, truncated or foreign file.
std::unique_ptr<faiss::Index> load_faiss_index(const std::string& path,
                                               const IndexSettings& settings);

// The k best (row, score) of each of `count` queries, on the calling thread (FAISS's OpenMP held
// to one thread, as every computation of a call stays on its thread). Rows are -1 past the hits.
void search_faiss(const faiss::Index& index, const float* queries, size_t count, size_t k,
                  std::vector<int64_t>& rows, std::vector<float>& scores);

// Pairs (i, j), i < j (possibly repeated), of `count` vectors whose inner product is above
// `threshold`, found by an exact range search.
std::vector<std::pair<size_t, size_t>> pairs_above(const float* vectors, size_t count,
                                                   int dimension, float threshold);

}  // namespace clipembed::search
