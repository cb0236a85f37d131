// Internal: the SIMD scheme of dot_rows (dot_rows.h), shared by both paths (dot_rows_avx2.cc,
// dot_rows_avx512.cc), each of which instantiates it with its own vector operations, compiled for
// its ISA (internal linkage, as in layer_norm_rows.h, so no copy compiled for one ISA can stand in
// for another's at link time).
//
// The sixteen lanes of the definition are kParts vectors of V::kLanes floats. A tile of
// kQueries x kRows products keeps one accumulator per lane vector of each product, so each row
// vector loaded is used for every query of the tile and each query vector for every row.
#pragma once

#include <algorithm>
#include <cstdint>

#include "kernels/dot_rows.h"

namespace clipembed::kernels {
namespace {

// V provides: kLanes (8 or 16); Vec; Mask with first(count) (lanes [0, count), count in
// [0, kLanes]); loadu(p); load(mask, p) (zero past the mask); zero(); fma(a, b, c) = a * b + c
// rounded once; and sum16(const Vec[kParts]), the definition's pairwise sum of the sixteen lanes.
template <typename V>
struct DotRowTiles {
  using Vec = typename V::Vec;
  static constexpr int kParts = static_cast<int>(kDotLanes) / V::kLanes;

  template <int Q, int R>
  static void tile(const float* queries, const float* rows, int64_t dim, float* scores,
                   int64_t ld) {
    Vec acc[Q][R][kParts];
    for (auto& by_row : acc) {
      for (auto& parts : by_row) {
        for (Vec& v : parts) v = V::zero();
      }
    }
    int64_t d = 0;
    for (; d + kDotLanes <= dim; d += kDotLanes) {
      // The same line of the next tile's rows, a tile ahead of the loads: a single query's scan
      // is bound by memory, and the rows' streams outrun what the hardware prefetches.
      for (int r = 0; r < R; ++r) {
        __builtin_prefetch(rows + (2 * R + r) * dim + d);
      }
      for (int p = 0; p < kParts; ++p) {
        const int64_t at = d + p * V::kLanes;
        Vec row[R];
        for (int r = 0; r < R; ++r) row[r] = V::loadu(rows + r * dim + at);
        for (int q = 0; q < Q; ++q) {
          const Vec query = V::loadu(queries + q * dim + at);
          for (int r = 0; r < R; ++r) acc[q][r][p] = V::fma(query, row[r], acc[q][r][p]);
        }
      }
    }
    if (d < dim) {
      // The last, partial step: lanes past the dimension load zeros, as the definition pads.
      for (int p = 0; p < kParts; ++p) {
        const int64_t at = d + p * V::kLanes;
        const auto mask = V::first(std::clamp<int64_t>(dim - at, 0, V::kLanes));
        Vec row[R];
        for (int r = 0; r < R; ++r) row[r] = V::load(mask, rows + r * dim + at);
        for (int q = 0; q < Q; ++q) {
          const Vec query = V::load(mask, queries + q * dim + at);
          for (int r = 0; r < R; ++r) acc[q][r][p] = V::fma(query, row[r], acc[q][r][p]);
        }
      }
    }
    for (int q = 0; q < Q; ++q) {
      for (int r = 0; r < R; ++r) scores[q * ld + r] = V::sum16(acc[q][r]);
    }
  }

  // Rows of at most kRows at a time, each scored against the queries in tiles of kQueries; the
  // edges in smaller tiles.
  template <int kQueries, int kRows>
  static void run(const float* queries, int64_t query_count, const float* rows, int64_t row_count,
                  int64_t dim, float* scores, int64_t ld) {
    for (int64_t r = 0; r < row_count; r += kRows) {
      const int64_t rb = std::min<int64_t>(kRows, row_count - r);
      for (int64_t q = 0; q < query_count; q += kQueries) {
        const int64_t qb = std::min<int64_t>(kQueries, query_count - q);
        edge<kQueries, kRows>(qb, rb, queries + q * dim, rows + r * dim, dim, scores + q * ld + r,
                              ld);
      }
    }
  }

  // The tile of exactly qb x rb (qb <= Q, rb <= R) products.
  template <int Q, int R>
  static void edge(int64_t qb, int64_t rb, const float* queries, const float* rows, int64_t dim,
                   float* scores, int64_t ld) {
    if constexpr (Q > 1) {
      if (qb < Q) return edge<Q - 1, R>(qb, rb, queries, rows, dim, scores, ld);
    }
    if constexpr (R > 1) {
      if (rb < R) return edge<Q, R - 1>(qb, rb, queries, rows, dim, scores, ld);
    }
    tile<Q, R>(queries, rows, dim, scores, ld);
  }
};

}  // namespace
}  // namespace clipembed::kernels
