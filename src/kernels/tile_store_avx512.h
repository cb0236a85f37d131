// Internal: how the AVX-512 product tiles (gemm_f32_avx512.cc, gemm_bf16_avx512.cc) end: their
// float32 sums, held in registers, finished into the output with the epilogue. Only for files
// compiled with the AVX-512 flags.
#pragma once

#include <immintrin.h>

#include <cstdint>

#include "kernels/gemm_f32.h"
#include "kernels/math_avx512.h"

namespace clipembed::kernels::avx512 {

// R rows by P panels of sums into c (stride ldc): act(sum + bias), or c + (sum + bias); `cols` is
// the valid width of the last panel, `bias` the first panel's (or null).
template <int R, int P>
static inline void store_tile(const __m512 (&acc)[R][P], float* c, int64_t ldc, int64_t cols,
                              const float* bias, const Epilogue& e) {
  // The sums leave the registers here, at constant indices (see gemm_f32_avx2.cc).
  alignas(64) float sums[R][P][kPanelWidth];
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r) {
#pragma GCC unroll 2
    for (int q = 0; q < P; ++q) _mm512_store_ps(sums[r][q], acc[r][q]);
  }
  for (int q = 0; q < P; ++q) {
    const int64_t width = q + 1 == P ? cols : kPanelWidth;
    const auto mask = static_cast<__mmask16>((1u << width) - 1u);
    const __m512 bias_v =
        bias != nullptr ? _mm512_maskz_loadu_ps(mask, bias + q * kPanelWidth) : _mm512_setzero_ps();
    for (int r = 0; r < R; ++r) {
      float* out = c + r * ldc + q * kPanelWidth;
      const __m512 y = e.accumulate ? _mm512_maskz_loadu_ps(mask, out) : _mm512_setzero_ps();
      _mm512_mask_storeu_ps(out, mask,
                            finish(_mm512_load_ps(sums[r][q]), bias_v, y, e.act, e.accumulate));
    }
  }
}

}  // namespace clipembed::kernels::avx512
