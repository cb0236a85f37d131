// The AVX-512 path of attention_head (compiled with the AVX-512 flags): 16 keys per vector for
// the scores and the softmax, 16 dimensions per vector for the weighted sum of values; the same
// operations in the same order as the scalar path (attention.h).
//
// One fma chain alone waits on the fma's latency at every step, so the chains of several query
// rows and several blocks of keys (or of dimensions) run interleaved, 24 at a time. Each
// chain still runs over its own index in order, so the result is the scalar path's, bit for bit.
#include <immintrin.h>

#include <algorithm>
#include <cmath>

#include "kernels/attention.h"
#include "kernels/attention_rows.h"
#include "kernels/math_avx512.h"
#include "kernels/transpose_avx512.h"

namespace clipembed::kernels {
namespace {

// Query rows computed together (6): 6 rows by 4 vectors of keys (or dimensions) are 24 chains in
// 24 of the 32 registers, and each pass over the transposed keys (70 KB for ViT-L/14, from L2)
// serves 6 rows.
constexpr int kRows = static_cast<int>(kAttentionRows);
// Vectors of keys (scores) or of dimensions (weighted sum) per group of chains.
constexpr int kVectors = 4;

// Lane l of the result: op over lanes l, l + 8, l + 4, ... as attention.h's tree.
template <typename Op128, typename Op256>
float reduce(__m512 v, Op256 op256, Op128 op128) {
  const __m256 m8 = op256(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1));
  const __m128 m4 = op128(_mm256_castps256_ps128(m8), _mm256_extractf128_ps(m8, 1));
  const __m128 m2 = op128(m4, _mm_movehl_ps(m4, m4));
  return _mm_cvtss_f32(op128(m2, _mm_shuffle_ps(m2, m2, 1)));
}

// Lanes [0, width) set, for width in [0, 16]; anything above 16 is a whole vector.
__mmask16 lanes(int64_t width) {
  return width >= 16 ? static_cast<__mmask16>(0xffff)
                     : static_cast<__mmask16>((1u << std::max<int64_t>(width, 0)) - 1u);
}

// The keys transposed (attention_rows.h) in blocks of 16 keys by 16 dimensions.
void transpose_keys_by_blocks(int64_t n, int64_t head_dim, const float* k, int64_t ld, float* kt) {
  const int64_t padded = attention_padded_keys(n);
  for (int64_t j0 = 0; j0 < padded; j0 += 16) {
    for (int64_t d0 = 0; d0 < head_dim; d0 += 16) {
      const __mmask16 valid = lanes(head_dim - d0);
      __m512 block[16];
      for (int i = 0; i < 16; ++i) {
        block[i] =
            j0 + i < n ? _mm512_maskz_loadu_ps(valid, k + (j0 + i) * ld + d0) : _mm512_setzero_ps();
      }
      avx512::transpose_16x16(block);
      const int64_t dims = std::min<int64_t>(16, head_dim - d0);
      for (int c = 0; c < dims; ++c) _mm512_storeu_ps(kt + (d0 + c) * padded + j0, block[c]);
    }
  }
}

// scores[r][j] = scale * dot(rows[r], k_j) for the kRows rows and the first `keys` keys (rounded
// up to whole vectors); kt is [head_dim][padded].
void score_rows(const float* const* rows, int64_t head_dim, const float* kt, int64_t padded,
                int64_t keys, float scale, float* scores) {
  const int64_t blocks = (keys + 15) / 16;
  for (int64_t b0 = 0; b0 < blocks; b0 += kVectors) {
    __mmask16 valid[kVectors];
    for (int c = 0; c < kVectors; ++c) valid[c] = b0 + c < blocks ? 0xffff : 0;
    __m512 acc[kRows][kVectors];
    for (auto& row : acc) {
      for (auto& a : row) a = _mm512_setzero_ps();
    }
    for (int64_t d = 0; d < head_dim; ++d) {
      const float* line = kt + d * padded + 16 * b0;
      __m512 key[kVectors];
      for (int c = 0; c < kVectors; ++c) key[c] = _mm512_maskz_loadu_ps(valid[c], line + 16 * c);
      for (int r = 0; r < kRows; ++r) {
        const __m512 x = _mm512_set1_ps(rows[r][d]);
        for (int c = 0; c < kVectors; ++c) acc[r][c] = _mm512_fmadd_ps(x, key[c], acc[r][c]);
      }
    }
    for (int r = 0; r < kRows; ++r) {
      for (int c = 0; c < kVectors; ++c) {
        _mm512_mask_storeu_ps(scores + r * padded + 16 * (b0 + c), valid[c],
                              _mm512_mul_ps(_mm512_set1_ps(scale), acc[r][c]));
      }
    }
  }
}

// The softmax of one row's scores in place: each exponential times the inverse of their sum,
// the two roundings of the scalar path (attention.h).
void softmax_row(float* s, int64_t keys) {
  const int64_t blocks = (keys + 15) / 16;
  const __mmask16 last = lanes(keys - 16 * (blocks - 1));
  const __m512 neg_inf = _mm512_set1_ps(-INFINITY);
  __m512 lane_max = neg_inf;
  for (int64_t b = 0; b < blocks; ++b) {
    __m512 x = _mm512_loadu_ps(s + 16 * b);
    if (b + 1 == blocks) x = _mm512_mask_blend_ps(last, neg_inf, x);
    lane_max = _mm512_max_ps(x, lane_max);
  }
  const float max = reduce(
      lane_max, [](__m256 a, __m256 c) { return _mm256_max_ps(a, c); },
      [](__m128 a, __m128 c) { return _mm_max_ps(a, c); });
  __m512 lane_sum = _mm512_setzero_ps();
  for (int64_t b = 0; b < blocks; ++b) {
    __m512 e = avx512::exp(_mm512_sub_ps(_mm512_loadu_ps(s + 16 * b), _mm512_set1_ps(max)));
    if (b + 1 == blocks) e = _mm512_maskz_mov_ps(last, e);
    _mm512_storeu_ps(s + 16 * b, e);
    lane_sum = _mm512_add_ps(lane_sum, e);
  }
  const float sum = reduce(
      lane_sum, [](__m256 a, __m256 c) { return _mm256_add_ps(a, c); },
      [](__m128 a, __m128 c) { return _mm_add_ps(a, c); });
  const __m512 inverse = _mm512_set1_ps(1.0f / sum);
  for (int64_t b = 0; b < blocks; ++b) {
    _mm512_storeu_ps(s + 16 * b, _mm512_mul_ps(_mm512_loadu_ps(s + 16 * b), inverse));
  }
}

// out[r] = sum over j < keys of p[r][j] v_j for R rows that share their keys (p rows `padded`
// apart, out rows `out_ld` apart).
template <int R>
void weigh_values(int64_t keys, int64_t head_dim, const float* p, int64_t padded, const float* v,
                  int64_t ld, float* out, int64_t out_ld) {
  for (int64_t d0 = 0; d0 < head_dim; d0 += 16 * kVectors) {
    __mmask16 mask[kVectors];
    for (int c = 0; c < kVectors; ++c) mask[c] = lanes(head_dim - d0 - 16 * c);
    __m512 acc[R][kVectors];
    for (auto& row : acc) {
      for (auto& a : row) a = _mm512_setzero_ps();
    }
    for (int64_t j = 0; j < keys; ++j) {
      __m512 value[kVectors];
      for (int c = 0; c < kVectors; ++c) {
        value[c] = _mm512_maskz_loadu_ps(mask[c], v + j * ld + d0 + 16 * c);
      }
      for (int r = 0; r < R; ++r) {
        const __m512 weight = _mm512_set1_ps(p[r * padded + j]);
        for (int c = 0; c < kVectors; ++c) {
          acc[r][c] = _mm512_fmadd_ps(weight, value[c], acc[r][c]);
        }
      }
    }
    for (int r = 0; r < R; ++r) {
      for (int c = 0; c < kVectors; ++c) {
        _mm512_mask_storeu_ps(out + r * out_ld + d0 + 16 * c, mask[c], acc[r][c]);
      }
    }
  }
}

}  // namespace

void attention_head_avx512(int64_t n, QueryRows queries, int64_t head_dim, const float* q,
                           const float* k, const float* v, int64_t ld, bool causal, float* out,
                           int64_t out_ld, float* scratch) {
  attention_rows<transpose_keys_by_blocks, score_rows, softmax_row, weigh_values<kRows>,
                 weigh_values<1>>(n, queries, head_dim, q, k, v, ld, causal, out, out_ld, scratch);
}

}  // namespace clipembed::kernels
