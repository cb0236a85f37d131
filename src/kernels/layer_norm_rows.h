// Internal: the SIMD layer norms' scheme, shared by both paths (layer_norm_avx2.cc,
// layer_norm_avx512.cc), each of which instantiates it with its own vector operations, compiled
// for its ISA (everything here has internal linkage, as in attention_rows.h, so no copy compiled
// for one ISA can stand in for another's at link time).
//
// Each row's two sums (values, then centred squares) must stay one running float sum in element
// order (layer_norm.h), so the vectors run across rows: V::kLanes rows' next V::kLanes values are
// loaded and transposed, so that lane r of each vector holds row r's next value, and one vector
// add per column carries every row's running sum a step: the scalar path's sums, bit for bit.
#pragma once

#include <algorithm>
#include <cstdint>

#include "kernels/layer_norm.h"

namespace clipembed::kernels {
namespace {

// V provides: kLanes; Vec; loadu(p) and storeu(p, v) of kLanes floats; first(count) (its mask of
// lanes [0, count), count in [0, kLanes)) with load(mask, p) (zero past the mask) and
// store(mask, p, v), for a row's last, partial vector only (masked moves cost more, on AVX2 much
// more); zero(), set1(), add(), sub(), mul(); transpose(Vec[kLanes]) (row r in v[r] becomes
// column c in v[c]); and store_all(p, v) for kLanes aligned floats.
template <typename V>
struct LayerNormRows {
  using Vec = typename V::Vec;
  static constexpr int kLanes = V::kLanes;

  // Adds `count` columns of the rows from `i` to the running sums, in column order: the values,
  // or with Squares the squares of (value - mean) (the scalar path's product, then its add).
  template <bool Squares>
  static Vec add_columns(const float* const rows[kLanes], int64_t i, int count, Vec sums,
                         Vec mean) {
    Vec v[kLanes];
    if (count == kLanes) {
      for (int r = 0; r < kLanes; ++r) v[r] = V::loadu(rows[r] + i);
    } else {
      const auto mask = V::first(count);
      for (int r = 0; r < kLanes; ++r) v[r] = V::load(mask, rows[r] + i);
    }
    V::transpose(v);
    for (int j = 0; j < count; ++j) {
      if constexpr (Squares) {
        const Vec centred = V::sub(v[j], mean);
        sums = V::add(sums, V::mul(centred, centred));
      } else {
        sums = V::add(sums, v[j]);
      }
    }
    return sums;
  }

  template <bool Squares>
  static Vec row_sums(const float* const rows[kLanes], int64_t dim, Vec mean) {
    Vec sums = V::zero();
    int64_t i = 0;
    for (; i + kLanes <= dim; i += kLanes) {
      sums = add_columns<Squares>(rows, i, kLanes, sums, mean);
    }
    if (i < dim) sums = add_columns<Squares>(rows, i, static_cast<int>(dim - i), sums, mean);
    return sums;
  }

  // Rows [0, n) (n <= kLanes) from `in`; the lanes past n repeat the last row, and are not
  // written.
  static void normalize_group(const float* in, int64_t in_ld, float* out, int64_t out_ld,
                              int64_t dim, int n, const float* gamma, const float* beta,
                              float eps) {
    const float* rows[kLanes];
    for (int r = 0; r < kLanes; ++r) rows[r] = in + std::min(r, n - 1) * in_ld;
    alignas(64) float mean[kLanes], inv[kLanes];
    V::store_all(mean, row_sums<false>(rows, dim, V::zero()));
    for (float& m : mean) m = row_mean(m, dim);
    V::store_all(inv, row_sums<true>(rows, dim, V::loadu(mean)));
    for (float& s : inv) s = row_inv_std(s, dim, eps);
    for (int r = 0; r < n; ++r) {
      const Vec m = V::set1(mean[r]), s = V::set1(inv[r]);
      float* y = out + r * out_ld;
      int64_t i = 0;
      for (; i + kLanes <= dim; i += kLanes) {
        const Vec scaled = V::mul(V::mul(V::sub(V::loadu(rows[r] + i), m), s), V::loadu(gamma + i));
        V::storeu(y + i, V::add(scaled, V::loadu(beta + i)));
      }
      if (i < dim) {
        const auto mask = V::first(dim - i);
        const Vec x = V::load(mask, rows[r] + i);
        const Vec scaled = V::mul(V::mul(V::sub(x, m), s), V::load(mask, gamma + i));
        V::store(mask, y + i, V::add(scaled, V::load(mask, beta + i)));
      }
    }
  }

  // layer_norm() on rows [begin, end), kLanes at a time while at least `min_rows` are left;
  // returns the first row not normalised (end, with min_rows 1).
  static int64_t run(const float* in, int64_t in_ld, float* out, int64_t out_ld, int64_t dim,
                     int64_t begin, int64_t end, const float* gamma, const float* beta, float eps,
                     int64_t min_rows) {
    int64_t r = begin;
    for (; end - r >= min_rows; r += kLanes) {
      const int n = static_cast<int>(std::min<int64_t>(kLanes, end - r));
      normalize_group(in + r * in_ld, in_ld, out + r * out_ld, out_ld, dim, n, gamma, beta, eps);
    }
    return std::min(r, end);
  }
};

}  // namespace
}  // namespace clipembed::kernels
