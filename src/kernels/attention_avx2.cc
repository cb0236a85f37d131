// The AVX2 path of attention_head (compiled with -mavx2 -mfma): 8 keys per vector, with the 16
// lanes of attention.h's reductions held in two vectors, and 8 dimensions per vector for the
// weighted sum of values; the same operations in the same order as the scalar path.
//
// As in the AVX-512 path, the fma chains of several query rows run interleaved (twelve at a time:
// 6 rows by 2 vectors, with the 2 vectors of keys or values and a broadcast, fill 15 of the 16
// registers), each still over its own index in order.
#include <immintrin.h>

#include <algorithm>
#include <cmath>

#include "kernels/attention.h"
#include "kernels/attention_rows.h"
#include "kernels/math_avx2.h"
#include "kernels/transpose_avx2.h"

namespace clipembed::kernels {
namespace {

constexpr int kRows = static_cast<int>(kAttentionRows);

template <typename Op256, typename Op128>
float reduce(__m256 lanes_0_7, __m256 lanes_8_15, Op256 op256, Op128 op128) {
  const __m256 m8 = op256(lanes_0_7, lanes_8_15);
  const __m128 m4 = op128(_mm256_castps256_ps128(m8), _mm256_extractf128_ps(m8, 1));
  const __m128 m2 = op128(m4, _mm_movehl_ps(m4, m4));
  return _mm_cvtss_f32(op128(m2, _mm_shuffle_ps(m2, m2, 1)));
}

// Lanes [0, valid) of the vector.
__m256 first_lanes(int64_t valid) {
  const __m256i index = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(valid)), index));
}

// The keys transposed (attention_rows.h) in blocks of 8 keys by 8 dimensions.
void transpose_keys_by_blocks(int64_t n, int64_t head_dim, const float* k, int64_t ld, float* kt) {
  const int64_t padded = attention_padded_keys(n);
  for (int64_t j0 = 0; j0 < padded; j0 += 8) {
    for (int64_t d0 = 0; d0 < head_dim; d0 += 8) {
      const int64_t dims = std::min<int64_t>(8, head_dim - d0);
      const __m256i valid = _mm256_castps_si256(first_lanes(dims));
      __m256 block[8];
      for (int i = 0; i < 8; ++i) {
        block[i] =
            j0 + i < n ? _mm256_maskload_ps(k + (j0 + i) * ld + d0, valid) : _mm256_setzero_ps();
      }
      avx2::transpose_8x8(block);
      for (int c = 0; c < dims; ++c) _mm256_storeu_ps(kt + (d0 + c) * padded + j0, block[c]);
    }
  }
}

// scores[r][j] = scale * dot(rows[r], k_j) for the kRows rows and the first `keys` keys (rounded
// up to blocks of 16, which kt holds: it is [head_dim][padded]).
void score_rows(const float* const* rows, int64_t head_dim, const float* kt, int64_t padded,
                int64_t keys, float scale, float* scores) {
  for (int64_t j0 = 0; j0 < keys; j0 += 16) {
    __m256 acc[kRows][2];
    for (auto& row : acc) row[0] = row[1] = _mm256_setzero_ps();
    for (int64_t d = 0; d < head_dim; ++d) {
      const __m256 k0 = _mm256_loadu_ps(kt + d * padded + j0);
      const __m256 k1 = _mm256_loadu_ps(kt + d * padded + j0 + 8);
      for (int r = 0; r < kRows; ++r) {
        const __m256 x = _mm256_set1_ps(rows[r][d]);
        acc[r][0] = _mm256_fmadd_ps(x, k0, acc[r][0]);
        acc[r][1] = _mm256_fmadd_ps(x, k1, acc[r][1]);
      }
    }
    for (int r = 0; r < kRows; ++r) {
      _mm256_storeu_ps(scores + r * padded + j0, _mm256_mul_ps(_mm256_set1_ps(scale), acc[r][0]));
      _mm256_storeu_ps(scores + r * padded + j0 + 8,
                       _mm256_mul_ps(_mm256_set1_ps(scale), acc[r][1]));
    }
  }
}

// The softmax of one row's scores in place: each exponential times the inverse of their sum,
// the two roundings of the scalar path (attention.h).
void softmax_row(float* s, int64_t keys) {
  const int64_t blocks = (keys + 7) / 8;
  const __m256 neg_inf = _mm256_set1_ps(-INFINITY);
  __m256 lane_max[2] = {neg_inf, neg_inf};
  for (int64_t b = 0; b < blocks; ++b) {
    __m256 x = _mm256_loadu_ps(s + 8 * b);
    if (b + 1 == blocks) x = _mm256_blendv_ps(neg_inf, x, first_lanes(keys - 8 * b));
    lane_max[b % 2] = _mm256_max_ps(x, lane_max[b % 2]);
  }
  const float max = reduce(
      lane_max[0], lane_max[1], [](__m256 a, __m256 c) { return _mm256_max_ps(a, c); },
      [](__m128 a, __m128 c) { return _mm_max_ps(a, c); });
  __m256 lane_sum[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()};
  for (int64_t b = 0; b < blocks; ++b) {
    __m256 e = avx2::exp(_mm256_sub_ps(_mm256_loadu_ps(s + 8 * b), _mm256_set1_ps(max)));
    if (b + 1 == blocks) e = _mm256_and_ps(e, first_lanes(keys - 8 * b));
    _mm256_storeu_ps(s + 8 * b, e);
    lane_sum[b % 2] = _mm256_add_ps(lane_sum[b % 2], e);
  }
  const float sum = reduce(
      lane_sum[0], lane_sum[1], [](__m256 a, __m256 c) { return _mm256_add_ps(a, c); },
      [](__m128 a, __m128 c) { return _mm_add_ps(a, c); });
  const __m256 inverse = _mm256_set1_ps(1.0f / sum);
  for (int64_t b = 0; b < blocks; ++b) {
    _mm256_storeu_ps(s + 8 * b, _mm256_mul_ps(_mm256_loadu_ps(s + 8 * b), inverse));
  }
}

// out[r][d0, d0 + 8V) = sum over j < keys of p[r][j] v_j for R rows that share their keys (p
// rows `padded` apart, out rows `out_ld` apart).
template <int R, int V>
void weigh_values(int64_t keys, int64_t d0, const float* p, int64_t padded, const float* v,
                  int64_t ld, float* out, int64_t out_ld) {
  __m256 acc[R][V];
  for (auto& row : acc) {
    for (auto& a : row) a = _mm256_setzero_ps();
  }
  for (int64_t j = 0; j < keys; ++j) {
    __m256 value[V];
    for (int c = 0; c < V; ++c) value[c] = _mm256_loadu_ps(v + j * ld + d0 + 8 * c);
    for (int r = 0; r < R; ++r) {
      const __m256 weight = _mm256_set1_ps(p[r * padded + j]);
      for (int c = 0; c < V; ++c) acc[r][c] = _mm256_fmadd_ps(weight, value[c], acc[r][c]);
    }
  }
  for (int r = 0; r < R; ++r) {
    for (int c = 0; c < V; ++c) _mm256_storeu_ps(out + r * out_ld + d0 + 8 * c, acc[r][c]);
  }
}

// Every dimension of R rows: two vectors at a time, then one, then single lanes (a head width
// that is not a multiple of 8).
template <int R>
void weigh_all(int64_t keys, int64_t head_dim, const float* p, int64_t padded, const float* v,
               int64_t ld, float* out, int64_t out_ld) {
  int64_t d0 = 0;
  for (; d0 + 16 <= head_dim; d0 += 16) {
    weigh_values<R, 2>(keys, d0, p, padded, v, ld, out, out_ld);
  }
  for (; d0 + 8 <= head_dim; d0 += 8) {
    weigh_values<R, 1>(keys, d0, p, padded, v, ld, out, out_ld);
  }
  for (; d0 < head_dim; ++d0) {
    for (int r = 0; r < R; ++r) {
      float acc = 0.0f;
      for (int64_t j = 0; j < keys; ++j) {
        acc = std::fma(p[r * padded + j], v[j * ld + d0], acc);
      }
      out[r * out_ld + d0] = acc;
    }
  }
}

}  // namespace

void attention_head_avx2(int64_t n, QueryRows queries, int64_t head_dim, const float* q,
                         const float* k, const float* v, int64_t ld, bool causal, float* out,
                         int64_t out_ld, float* scratch) {
  attention_rows<transpose_keys_by_blocks, score_rows, softmax_row, weigh_all<kRows>, weigh_all<1>>(
      n, queries, head_dim, q, k, v, ld, causal, out, out_ld, scratch);
}

}  // namespace clipembed::kernels
