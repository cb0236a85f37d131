// AVX2 paths of the quantizers (compiled with -mavx2 -mfma, called only when cpu_features() says
// the CPU has them). Each step mirrors the scalar path in quantize.cc, so results are identical.
#include <immintrin.h>

#include <cmath>

#include "kernels/quantize_row.h"
#include "kernels/quantize_simd.h"

namespace clipembed::kernels {
namespace {

constexpr int kRound = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;

float horizontal_min(__m256 v) {
  __m128 m = _mm_min_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_min_ps(m, _mm_movehl_ps(m, m));
  m = _mm_min_ss(m, _mm_shuffle_ps(m, m, 1));
  return _mm_cvtss_f32(m);
}

float horizontal_max(__m256 v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_shuffle_ps(m, m, 1));
  return _mm_cvtss_f32(m);
}

bool all_finite(__m256 probe) {
  // probe holds sums of value * 0: zero everywhere unless a value was NaN or infinite.
  return _mm256_movemask_ps(_mm256_cmp_ps(probe, probe, _CMP_UNORD_Q)) == 0;
}

}  // namespace

void quantize_activation_rows_avx2(const float* x, int64_t ldx, int64_t k, int64_t row_begin,
                                   int64_t row_end, int32_t max_code, uint8_t* q, int64_t ldq,
                                   float* scale, int32_t* zero) {
  const float levels = static_cast<float>(max_code);
  const __m256 zeros = _mm256_setzero_ps();
  for (int64_t r = row_begin; r < row_end; ++r) {
    const float* in = x + r * ldx;
    uint8_t* out = q + r * ldq;
    __m256 vlo = zeros, vhi = zeros, vprobe = zeros;
    int64_t i = 0;
    for (; i + 8 <= k; i += 8) {
      const __m256 v = _mm256_loadu_ps(in + i);
      // min_ps(a, b) is "a < b ? a : b", as the scalar path: NaNs are passed over.
      vlo = _mm256_min_ps(v, vlo);
      vhi = _mm256_max_ps(v, vhi);
      vprobe = _mm256_add_ps(vprobe, _mm256_mul_ps(v, zeros));
    }
    float lo = horizontal_min(vlo), hi = horizontal_max(vhi);
    bool finite = all_finite(vprobe);
    fold_activation_tail(in, i, k, &lo, &hi, &finite);
    if (!finite) {
      mark_non_finite_row(out, k, &scale[r], &zero[r]);
      continue;
    }
    const RowScale s = activation_row_scale(lo, hi, levels);
    const __m256 vinv = _mm256_set1_ps(s.inverse), vz = _mm256_set1_ps(s.zero);
    const __m256 vmin = _mm256_set1_ps(-s.zero), vmax = _mm256_set1_ps(levels - s.zero);
    for (i = 0; i + 8 <= k; i += 8) {
      __m256 c = _mm256_round_ps(_mm256_mul_ps(_mm256_loadu_ps(in + i), vinv), kRound);
      c = _mm256_add_ps(_mm256_min_ps(_mm256_max_ps(c, vmin), vmax), vz);
      const __m256i ci = _mm256_cvtps_epi32(c);
      const __m128i words =
          _mm_packus_epi32(_mm256_castsi256_si128(ci), _mm256_extracti128_si256(ci, 1));
      _mm_storel_epi64(reinterpret_cast<__m128i*>(out + i), _mm_packus_epi16(words, words));
    }
    for (; i < k; ++i) out[i] = activation_code(in[i], s, levels);
    scale[r] = s.scale;
    zero[r] = static_cast<int32_t>(s.zero);
  }
}

void quantize_weight_rows_avx2(const float* w, int64_t k, int64_t row_begin, int64_t row_end,
                               int32_t max_code, int8_t* q, float* scale, int32_t* code_sum) {
  const float levels = static_cast<float>(max_code);
  const __m256 zeros = _mm256_setzero_ps();
  const __m256 sign = _mm256_set1_ps(-0.0f);
  for (int64_t r = row_begin; r < row_end; ++r) {
    const float* in = w + r * k;
    int8_t* out = q + r * k;
    __m256 vpeak = zeros, vprobe = zeros;
    int64_t i = 0;
    for (; i + 8 <= k; i += 8) {
      const __m256 v = _mm256_loadu_ps(in + i);
      vpeak = _mm256_max_ps(_mm256_andnot_ps(sign, v), vpeak);
      vprobe = _mm256_add_ps(vprobe, _mm256_mul_ps(v, zeros));
    }
    float peak = horizontal_max(vpeak);
    bool finite = all_finite(vprobe);
    for (int64_t t = i; t < k; ++t) {
      const float magnitude = std::fabs(in[t]);
      peak = magnitude > peak ? magnitude : peak;
      finite = finite && std::isfinite(in[t]);
    }
    if (!finite) {
      mark_non_finite_row(out, k, &scale[r], &code_sum[r]);
      continue;
    }
    const RowScale s = weight_row_scale(peak, levels);
    const __m256 vinv = _mm256_set1_ps(s.inverse);
    const __m256 vmin = _mm256_set1_ps(-levels), vmax = _mm256_set1_ps(levels);
    __m256i vsum = _mm256_setzero_si256();
    for (i = 0; i + 8 <= k; i += 8) {
      __m256 c = _mm256_round_ps(_mm256_mul_ps(_mm256_loadu_ps(in + i), vinv), kRound);
      const __m256i ci = _mm256_cvtps_epi32(_mm256_min_ps(_mm256_max_ps(c, vmin), vmax));
      vsum = _mm256_add_epi32(vsum, ci);
      const __m128i words =
          _mm_packs_epi32(_mm256_castsi256_si128(ci), _mm256_extracti128_si256(ci, 1));
      _mm_storel_epi64(reinterpret_cast<__m128i*>(out + i), _mm_packs_epi16(words, words));
    }
    alignas(32) int32_t lanes[8];
    _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), vsum);
    int32_t sum = 0;
    for (int32_t lane : lanes) sum += lane;
    for (; i < k; ++i) {
      out[i] = weight_code(in[i], s, levels);
      sum += out[i];
    }
    scale[r] = s.scale;
    code_sum[r] = sum;
  }
}

}  // namespace clipembed::kernels
