// The AVX-512 path of the activation quantizer (compiled with the AVX-512 flags; weights are
// quantized once, at load, by the AVX2 path). Sixteen lanes per step, each step the scalar path's
// (quantize.cc), so codes, scales and zero points are identical.
#include <immintrin.h>

#include "kernels/quantize_row.h"
#include "kernels/quantize_simd.h"

namespace clipembed::kernels {

void quantize_activation_rows_avx512(const float* x, int64_t ldx, int64_t k, int64_t row_begin,
                                     int64_t row_end, int32_t max_code, uint8_t* q, int64_t ldq,
                                     float* scale, int32_t* zero) {
  constexpr int kRound = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;
  const float levels = static_cast<float>(max_code);
  const __m512 zeros = _mm512_setzero_ps();
  for (int64_t r = row_begin; r < row_end; ++r) {
    const float* in = x + r * ldx;
    uint8_t* out = q + r * ldq;
    __m512 vlo = zeros, vhi = zeros, vprobe = zeros;
    int64_t i = 0;
    for (; i + 16 <= k; i += 16) {
      const __m512 v = _mm512_loadu_ps(in + i);
      // min_ps(a, b) is "a < b ? a : b", as the scalar path: NaNs are passed over, and the
      // probe (sums of value * 0) turns NaN when a value is not finite.
      vlo = _mm512_min_ps(v, vlo);
      vhi = _mm512_max_ps(v, vhi);
      vprobe = _mm512_add_ps(vprobe, _mm512_mul_ps(v, zeros));
    }
    // The lanes hold no NaN, so the order of these reductions cannot change their result.
    float lo = _mm512_reduce_min_ps(vlo), hi = _mm512_reduce_max_ps(vhi);
    bool finite = _mm512_cmp_ps_mask(vprobe, vprobe, _CMP_UNORD_Q) == 0;
    fold_activation_tail(in, i, k, &lo, &hi, &finite);
    if (!finite) {
      mark_non_finite_row(out, k, &scale[r], &zero[r]);
      continue;
    }
    const RowScale s = activation_row_scale(lo, hi, levels);
    const __m512 vinv = _mm512_set1_ps(s.inverse), vz = _mm512_set1_ps(s.zero);
    const __m512 vmin = _mm512_set1_ps(-s.zero), vmax = _mm512_set1_ps(levels - s.zero);
    for (i = 0; i + 16 <= k; i += 16) {
      __m512 c = _mm512_roundscale_ps(_mm512_mul_ps(_mm512_loadu_ps(in + i), vinv), kRound);
      c = _mm512_add_ps(_mm512_min_ps(_mm512_max_ps(c, vmin), vmax), vz);
      _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i),
                       _mm512_cvtusepi32_epi8(_mm512_cvtps_epi32(c)));
    }
    for (; i < k; ++i) out[i] = activation_code(in[i], s, levels);
    scale[r] = s.scale;
    zero[r] = static_cast<int32_t>(s.zero);
  }
}

}  // namespace clipembed::kernels
