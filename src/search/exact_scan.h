// Internal: exact search over a collection's vectors where they lie (the memory-mapped
// vectors.npy), on the kernels' inner product (kernels/dot_rows.h), spread over the shared runtime.
//
// Results depend on nothing but the vectors and the queries: every score is the kernel's one
// definition (not the ISA's, not the batch's), and equal scores rank the lower row first, so the
// rows' split between threads never shows.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace clipembed::search {

// The best min(k, count) rows of `vectors` ([count x dim], row-major) for each of `query_count`
// queries ([query_count x dim]), best first, in rows/scores[q * k + i]. A row whose score is NaN
// is never returned (its place is -1 / 0 at the end).
void exact_search(const float* vectors, size_t count, size_t dim, const float* queries,
                  size_t query_count, size_t k, std::vector<int64_t>& rows,
                  std::vector<float>& scores);

// Every pair (i, j), i < j, of the `count` vectors whose inner product is above `threshold`, in
// (i, j) order: one product per pair (the kernel's product is symmetric).
std::vector<std::pair<size_t, size_t>> exact_pairs_above(const float* vectors, size_t count,
                                                         size_t dim, float threshold);

}  // namespace clipembed::search
