// Internal kernel: inner products of a few query vectors with many rows (exact search).
//
// Why our own: a search score must not depend on the ISA, on how many queries are scored
// together, or on where the rows are split between threads, so that one query finds the same rows
// in the same order from the CLI, the server and Python on any machine. A library's inner product
// fixes none of these. Every product here is defined as sixteen lane sums, lane l one fused
// multiply-add chain over the dimensions d with d % 16 == l in ascending order from 0 (the vectors
// padded with zeros to a multiple of 16), then the lanes added pairwise: lane l + lane l + 8, then
// + 4, + 2, + 1. Every path computes exactly that, so every path gives the same bits.
#pragma once

#include <cstdint>

#include "kernels/isa.h"

namespace clipembed::kernels {

constexpr int64_t kDotLanes = 16;

// scores[q * ld + r] = the product of query q (queries + q * dim) and row r (rows + r * dim), for
// q < query_count and r < row_count. The queries should fit in L2 (a few dozen of 512 floats):
// each row is read once and scored against all of them.
void dot_rows(Isa isa, const float* queries, int64_t query_count, const float* rows,
              int64_t row_count, int64_t dim, float* scores, int64_t ld);

// The product of one pair, for callers that take a function pointer (an HNSW graph's distance):
// the same bits as dot_rows() for that pair, without its dispatch.
using DotFunction = float (*)(const float* a, const float* b, int64_t dim);
DotFunction dot_function(Isa isa);

// The ISA paths, for tests; dot_rows() and dot_function() dispatch to them.
void dot_rows_scalar(const float* queries, int64_t query_count, const float* rows,
                     int64_t row_count, int64_t dim, float* scores, int64_t ld);
void dot_rows_avx2(const float* queries, int64_t query_count, const float* rows, int64_t row_count,
                   int64_t dim, float* scores, int64_t ld);
void dot_rows_avx512(const float* queries, int64_t query_count, const float* rows,
                     int64_t row_count, int64_t dim, float* scores, int64_t ld);
float dot_scalar(const float* a, const float* b, int64_t dim);
float dot_avx2(const float* a, const float* b, int64_t dim);
float dot_avx512(const float* a, const float* b, int64_t dim);

}  // namespace clipembed::kernels
