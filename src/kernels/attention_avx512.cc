// The AVX-512 path of attention_head (compiled with the AVX-512 flags): 16 keys per vector for
// the scores and the softmax, 16 dimensions per vector for the weighted sum of values; the same
// operations in the same order as the scalar path (attention.h).
#include <immintrin.h>

#include <cmath>

#include "kernels/attention.h"
#include "kernels/math_avx512.h"

namespace clipembed::kernels {
namespace {

// Lane l of the result: op over lanes l, l + 8, l + 4, ... as attention.h's tree.
template <typename Op128, typename Op256>
float reduce(__m512 v, Op256 op256, Op128 op128) {
  const __m256 m8 = op256(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1));
  const __m128 m4 = op128(_mm256_castps256_ps128(m8), _mm256_extractf128_ps(m8, 1));
  const __m128 m2 = op128(m4, _mm_movehl_ps(m4, m4));
  return _mm_cvtss_f32(op128(m2, _mm_shuffle_ps(m2, m2, 1)));
}

}  // namespace

void attention_head_avx512(int64_t n, int64_t head_dim, const float* q, const float* k,
                           const float* v, int64_t ld, bool causal, float* out, int64_t out_ld,
                           float* scratch) {
  const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
  const int64_t padded = attention_padded_keys(n);
  float* kt = scratch;  // [head_dim][padded]
  float* scores = scratch + head_dim * padded;
  transpose_keys(n, head_dim, k, ld, kt);
  const __m512 neg_inf = _mm512_set1_ps(-INFINITY);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t keys = causal ? i + 1 : n, blocks = (keys + 15) / 16;
    const float* qi = q + i * ld;
    const __mmask16 last = static_cast<__mmask16>((1u << (keys - 16 * (blocks - 1))) - 1u);
    __m512 lane_max = neg_inf;
    for (int64_t b = 0; b < blocks; ++b) {
      __m512 dot = _mm512_setzero_ps();
      for (int64_t d = 0; d < head_dim; ++d) {
        dot =
            _mm512_fmadd_ps(_mm512_set1_ps(qi[d]), _mm512_loadu_ps(kt + d * padded + 16 * b), dot);
      }
      __m512 s = _mm512_mul_ps(_mm512_set1_ps(scale), dot);
      _mm512_storeu_ps(scores + 16 * b, s);
      if (b + 1 == blocks) s = _mm512_mask_blend_ps(last, neg_inf, s);
      lane_max = _mm512_max_ps(s, lane_max);
    }
    const float max = reduce(
        lane_max, [](__m256 a, __m256 c) { return _mm256_max_ps(a, c); },
        [](__m128 a, __m128 c) { return _mm_max_ps(a, c); });
    __m512 lane_sum = _mm512_setzero_ps();
    for (int64_t b = 0; b < blocks; ++b) {
      __m512 e = avx512::exp(_mm512_sub_ps(_mm512_loadu_ps(scores + 16 * b), _mm512_set1_ps(max)));
      if (b + 1 == blocks) e = _mm512_maskz_mov_ps(last, e);
      _mm512_storeu_ps(scores + 16 * b, e);
      lane_sum = _mm512_add_ps(lane_sum, e);
    }
    const float sum = reduce(
        lane_sum, [](__m256 a, __m256 c) { return _mm256_add_ps(a, c); },
        [](__m128 a, __m128 c) { return _mm_add_ps(a, c); });
    const float inverse = 1.0f / sum;
    float* oi = out + i * out_ld;
    for (int64_t d0 = 0; d0 < head_dim; d0 += 16) {
      const int64_t width = head_dim - d0 < 16 ? head_dim - d0 : 16;
      const __mmask16 mask = static_cast<__mmask16>((1u << width) - 1u);
      __m512 acc = _mm512_setzero_ps();
      for (int64_t j = 0; j < keys; ++j) {
        const __m512 p = _mm512_set1_ps(scores[j] * inverse);
        acc = _mm512_fmadd_ps(p, _mm512_maskz_loadu_ps(mask, v + j * ld + d0), acc);
      }
      _mm512_mask_storeu_ps(oi + d0, mask, acc);
    }
  }
}

}  // namespace clipembed::kernels
