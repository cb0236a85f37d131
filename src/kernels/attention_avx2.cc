// The AVX2 path of attention_head (compiled with -mavx2 -mfma): 8 keys per vector, with the 16
// lanes of attention.h's reductions held in two vectors, and 8 dimensions per vector for the
// weighted sum of values; the same operations in the same order as the scalar path.
#include <immintrin.h>

#include <cmath>

#include "kernels/attention.h"
#include "kernels/math_avx2.h"

namespace clipembed::kernels {
namespace {

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

}  // namespace

void attention_head_avx2(int64_t n, int64_t head_dim, const float* q, const float* k,
                         const float* v, int64_t ld, bool causal, float* out, int64_t out_ld,
                         float* scratch) {
  const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
  const int64_t padded = attention_padded_keys(n);
  float* kt = scratch;  // [head_dim][padded]
  float* scores = scratch + head_dim * padded;
  transpose_keys(n, head_dim, k, ld, kt);
  const __m256 neg_inf = _mm256_set1_ps(-INFINITY);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t keys = causal ? i + 1 : n, blocks = (keys + 7) / 8;
    const float* qi = q + i * ld;
    __m256 lane_max[2] = {neg_inf, neg_inf};
    for (int64_t b = 0; b < blocks; ++b) {
      __m256 dot = _mm256_setzero_ps();
      for (int64_t d = 0; d < head_dim; ++d) {
        dot = _mm256_fmadd_ps(_mm256_set1_ps(qi[d]), _mm256_loadu_ps(kt + d * padded + 8 * b), dot);
      }
      __m256 s = _mm256_mul_ps(_mm256_set1_ps(scale), dot);
      _mm256_storeu_ps(scores + 8 * b, s);
      if (b + 1 == blocks) s = _mm256_blendv_ps(neg_inf, s, first_lanes(keys - 8 * b));
      lane_max[b % 2] = _mm256_max_ps(s, lane_max[b % 2]);
    }
    const float max = reduce(
        lane_max[0], lane_max[1], [](__m256 a, __m256 c) { return _mm256_max_ps(a, c); },
        [](__m128 a, __m128 c) { return _mm_max_ps(a, c); });
    __m256 lane_sum[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()};
    for (int64_t b = 0; b < blocks; ++b) {
      __m256 e = avx2::exp(_mm256_sub_ps(_mm256_loadu_ps(scores + 8 * b), _mm256_set1_ps(max)));
      if (b + 1 == blocks) e = _mm256_and_ps(e, first_lanes(keys - 8 * b));
      _mm256_storeu_ps(scores + 8 * b, e);
      lane_sum[b % 2] = _mm256_add_ps(lane_sum[b % 2], e);
    }
    const float sum = reduce(
        lane_sum[0], lane_sum[1], [](__m256 a, __m256 c) { return _mm256_add_ps(a, c); },
        [](__m128 a, __m128 c) { return _mm_add_ps(a, c); });
    const float inverse = 1.0f / sum;
    float* oi = out + i * out_ld;
    int64_t d0 = 0;
    for (; d0 + 8 <= head_dim; d0 += 8) {
      __m256 acc = _mm256_setzero_ps();
      for (int64_t j = 0; j < keys; ++j) {
        acc = _mm256_fmadd_ps(_mm256_set1_ps(scores[j] * inverse), _mm256_loadu_ps(v + j * ld + d0),
                              acc);
      }
      _mm256_storeu_ps(oi + d0, acc);
    }
    for (; d0 < head_dim; ++d0) {  // A head width that is not a multiple of 8.
      float acc = 0.0f;
      for (int64_t j = 0; j < keys; ++j) acc = std::fma(scores[j] * inverse, v[j * ld + d0], acc);
      oi[d0] = acc;
    }
  }
}

}  // namespace clipembed::kernels
