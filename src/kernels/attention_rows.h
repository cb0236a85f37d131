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

// The item's n values (rows `ld` apart) packed into vp[n][head_dim]: the weighted sums read every
// value row once per group of query rows, and rows `ld` apart all fall in one L1 set when ld is a
// multiple of 4 KiB (ViT-L/14's 3 x 1024 floats), so they would come from L2 every time.
void pack_values(int64_t n, int64_t head_dim, const float* v, int64_t ld, float* vp) {
  for (int64_t j = 0; j < n; ++j) std::copy_n(v + j * ld, head_dim, vp + j * head_dim);
}

// attention_head() for one path, from its steps:
//   transpose(n, head_dim, k, ld, kt): the item's n keys (rows `ld` apart) transposed into
//     kt[head_dim][padded], zero past n, so that a dimension's keys are contiguous (in blocks
//     moved through registers: one float at a time, walking a dimension down rows 4 KiB apart,
//     missed L1 at every read and took a sixth of a 50-token item's attention);
//   score(rows, head_dim, kt, padded, keys, scale, scores): the scores of kRows query rows
//     against the first `keys` keys (rows `padded` apart in scores);
//   softmax(scores, keys): the row's probabilities in place, each exponential times 1 / their
//     sum (the factor attention.h's weighted sum takes, computed once per key rather than once
//     per block of dimensions);
//   weigh_all / weigh_one(keys, head_dim, p, padded, v, ld, out, out_ld): the weighted sums of
//     kRows rows that share their keys, or of one row.
// Query rows go kRows at a time (rows past the last query repeat it: their chains are
// computed and never read); rows that share their keys (no mask) are weighed together.
template <auto transpose, auto score, auto softmax, auto weigh_all, auto weigh_one>
void attention_rows(int64_t n, QueryRows queries, int64_t head_dim, const float* q, const float* k,
                    const float* v, int64_t ld, bool causal, float* out, int64_t out_ld,
                    float* scratch) {
  constexpr int kRows = static_cast<int>(kAttentionRows);
  const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
  const int64_t padded = attention_padded_keys(n);
  float* kt = scratch;                     // [head_dim][padded]
  float* vp = kt + head_dim * padded;      // [n][head_dim]
  float* scores = vp + head_dim * padded;  // [kRows][padded]
  transpose(n, head_dim, k, ld, kt);
  pack_values(n, head_dim, v, ld, vp);
  for (int64_t i0 = queries.begin; i0 < queries.end; i0 += kRows) {
    const int64_t rows = std::min<int64_t>(kRows, queries.end - i0);
    const float* q_rows[kRows];
    for (int r = 0; r < kRows; ++r) q_rows[r] = q + std::min(i0 + r, queries.end - 1) * ld;
    score(q_rows, head_dim, kt, padded, causal ? i0 + rows : n, scale, scores);
    for (int r = 0; r < rows; ++r) softmax(scores + r * padded, causal ? i0 + r + 1 : n);
    float* o = out + (i0 - queries.begin) * out_ld;
    if (!causal && rows == kRows) {
      weigh_all(n, head_dim, scores, padded, vp, head_dim, o, out_ld);
      continue;
    }
    for (int r = 0; r < rows; ++r) {
      weigh_one(causal ? i0 + r + 1 : n, head_dim, scores + r * padded, padded, vp, head_dim,
                o + r * out_ld, out_ld);
    }
  }
}

}  // namespace
}  // namespace clipembed::kernels
