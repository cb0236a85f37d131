// Internal kernel: scaled dot-product attention of one head of one item, defined as one sequence
// of IEEE operations that every path (scalar, AVX2, AVX-512) follows exactly:
//   score_j = scale * dot(q_i, k_j)        dot: one fma chain over the head's dimensions, in order
//   m = max_j score_j; e_j = exp(score_j - m)      (math_scalar.h's exp)
//   sum = e summed in 16 lanes (lane l takes j = l, l + 16, ... in order), then lanes l and
//         l + 8, l + 4, l + 2, l + 1 added pairwise
//   out_i = sum_j (e_j * (1 / sum)) v_j    one fma chain over j, in order, per dimension
// With a causal mask row i attends to j <= i. A row's result depends on its item alone.
#pragma once

#include <cstdint>

#include "kernels/isa.h"

namespace clipembed::kernels {

// Keys are processed 16 at a time; scratch holds the item's keys transposed and the scores of
// kAttentionRows query rows, which the SIMD paths compute together.
constexpr int64_t kAttentionLanes = 16;
constexpr int64_t kAttentionRows = 4;
inline int64_t attention_padded_keys(int64_t n) {
  return (n + kAttentionLanes - 1) / kAttentionLanes * kAttentionLanes;
}
inline int64_t attention_scratch_floats(int64_t n, int64_t head_dim) {
  return attention_padded_keys(n) * (head_dim + kAttentionRows);
}

// The SIMD paths' first step: the item's n keys (rows `ld` apart) transposed into
// kt[head_dim][attention_padded_keys(n)], zero past n, so that a dimension's keys are contiguous.
inline void transpose_keys(int64_t n, int64_t head_dim, const float* k, int64_t ld, float* kt) {
  const int64_t padded = attention_padded_keys(n);
  for (int64_t d = 0; d < head_dim; ++d) {
    for (int64_t j = 0; j < padded; ++j) kt[d * padded + j] = j < n ? k[j * ld + d] : 0.0f;
  }
}

// q, k, v: the head's first column in the item's first row, rows `ld` floats apart; out likewise
// with `out_ld`. n rows; scratch: attention_scratch_floats(n, head_dim) floats.
void attention_head(Isa isa, int64_t n, int64_t head_dim, const float* q, const float* k,
                    const float* v, int64_t ld, bool causal, float* out, int64_t out_ld,
                    float* scratch);

void attention_head_scalar(int64_t n, int64_t head_dim, const float* q, const float* k,
                           const float* v, int64_t ld, bool causal, float* out, int64_t out_ld,
                           float* scratch);
void attention_head_avx2(int64_t n, int64_t head_dim, const float* q, const float* k,
                         const float* v, int64_t ld, bool causal, float* out, int64_t out_ld,
                         float* scratch);
void attention_head_avx512(int64_t n, int64_t head_dim, const float* q, const float* k,
                           const float* v, int64_t ld, bool causal, float* out, int64_t out_ld,
                           float* scratch);

}  // namespace clipembed::kernels
