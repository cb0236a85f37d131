// Internal: the steps every SIMD attention path shares around its own vector code. Each path's
// file (attention_avx2.cc, attention_avx512.cc) includes this header and instantiates
// attention_rows() with its own steps, compiled for its ISA; everything here has internal
// linkage, so no copy compiled for one ISA can stand in for another's at link time.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "kernels/attention.h"

namespace clipembed::kernels {
namespace {

// The item's n keys (rows `ld` apart) transposed into kt[head_dim][attention_padded_keys(n)],
// zero past n, so that a dimension's keys are contiguous.
void transpose_keys(int64_t n, int64_t head_dim, const float* k, int64_t ld, float* kt) {
  const int64_t padded = attention_padded_keys(n);
  for (int64_t d = 0; d < head_dim; ++d) {
    for (int64_t j = 0; j < padded; ++j) kt[d * padded + j] = j < n ? k[j * ld + d] : 0.0f;
  }
}

// attention_head() for one path, from its steps:
//   score(rows, head_dim, kt, padded, keys, scale, scores): the scores of kAttentionRows query
//     rows against the first `keys` keys (rows `padded` apart in scores);
//   softmax(scores, keys): the row's exponentials in place; returns 1 / their sum;
//   weigh_all / weigh_one(keys, head_dim, e, padded, inverse, v, ld, out, out_ld): the weighted
//     sums of kAttentionRows rows that share their keys, or of one row.
// Query rows go kAttentionRows at a time (rows past n repeat the last row: their chains are
// computed and never read); rows that share their keys (no mask) are weighed together.
template <auto score, auto softmax, auto weigh_all, auto weigh_one>
void attention_rows(int64_t n, int64_t head_dim, const float* q, const float* k, const float* v,
                    int64_t ld, bool causal, float* out, int64_t out_ld, float* scratch) {
  constexpr int kRows = static_cast<int>(kAttentionRows);
  const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
  const int64_t padded = attention_padded_keys(n);
  float* kt = scratch;                          // [head_dim][padded]
  float* scores = scratch + head_dim * padded;  // [kRows][padded]
  transpose_keys(n, head_dim, k, ld, kt);
  for (int64_t i0 = 0; i0 < n; i0 += kRows) {
    const int64_t rows = std::min<int64_t>(kRows, n - i0);
    const float* q_rows[kRows];
    for (int r = 0; r < kRows; ++r) q_rows[r] = q + std::min(i0 + r, n - 1) * ld;
    score(q_rows, head_dim, kt, padded, causal ? i0 + rows : n, scale, scores);
    float inverse[kRows];
    for (int r = 0; r < rows; ++r) {
      inverse[r] = softmax(scores + r * padded, causal ? i0 + r + 1 : n);
    }
    float* o = out + i0 * out_ld;
    if (!causal && rows == kRows) {
      weigh_all(n, head_dim, scores, padded, inverse, v, ld, o, out_ld);
      continue;
    }
    for (int r = 0; r < rows; ++r) {
      weigh_one(causal ? i0 + r + 1 : n, head_dim, scores + r * padded, padded, inverse + r, v, ld,
                o + r * out_ld, out_ld);
    }
  }
}

}  // namespace
}  // namespace clipembed::kernels
