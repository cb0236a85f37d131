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

// Keys are processed 16 at a time; scratch holds the item's keys transposed, its values packed
// (rows head_dim apart) and the scores of the kAttentionRows query rows the SIMD paths compute
// together.
constexpr int64_t kAttentionLanes = 16;
constexpr int64_t kAttentionRows = 6;
inline int64_t attention_padded_keys(int64_t n) {
  return (n + kAttentionLanes - 1) / kAttentionLanes * kAttentionLanes;
}
inline int64_t attention_scratch_floats(int64_t n, int64_t head_dim) {
  return attention_padded_keys(n) * (2 * head_dim + kAttentionRows);
}

// The query rows a call computes: rows [begin, end) of the item's n (every key and value is read
// whatever they are). A caller that reads only some rows' outputs (CLIP's last layer, whose
// pooled token is all the towers return) computes only those; each row's result is the same
// whichever rows are computed with it.
struct QueryRows {
  int64_t begin = 0;
  int64_t end = 0;
};

// q, k, v: the head's first column in the item's first row, rows `ld` floats apart; out: query
// row queries.begin's output, rows `out_ld` apart. n rows; scratch:
// attention_scratch_floats(n, head_dim) floats.
void attention_head(Isa isa, int64_t n, QueryRows queries, int64_t head_dim, const float* q,
                    const float* k, const float* v, int64_t ld, bool causal, float* out,
                    int64_t out_ld, float* scratch);

void attention_head_scalar(int64_t n, QueryRows queries, int64_t head_dim, const float* q,
                           const float* k, const float* v, int64_t ld, bool causal, float* out,
                           int64_t out_ld, float* scratch);
void attention_head_avx2(int64_t n, QueryRows queries, int64_t head_dim, const float* q,
                         const float* k, const float* v, int64_t ld, bool causal, float* out,
                         int64_t out_ld, float* scratch);
void attention_head_avx512(int64_t n, QueryRows queries, int64_t head_dim, const float* q,
                           const float* k, const float* v, int64_t ld, bool causal, float* out,
                           int64_t out_ld, float* scratch);

}  // namespace clipembed::kernels
