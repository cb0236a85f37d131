// Internal: a block of 16 x 16 floats transposed in AVX-512 registers (attention's keys, layer
// norm's rows). Only for files compiled with the AVX-512 flags; static inline, so each of them has
// its own copy, compiled for its ISA.
#pragma once

#include <immintrin.h>

namespace clipembed::kernels::avx512 {

// r[0..15] (row i's 16 floats in r[i]) becomes its transpose (column c's in r[c]).
static inline void transpose_16x16(__m512 r[16]) {
  __m512 a[16], b[16];
  // Rows paired element by element: within each 128-bit lane, [x0 y0 x1 y1] and [x2 y2 x3 y3].
  for (int i = 0; i < 16; i += 2) {
    a[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
    a[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
  }
  // Four rows per 128-bit lane: b[4g + m] holds column 4L + m of rows 4g..4g+3 in lane L.
  for (int g = 0; g < 16; g += 4) {
    b[g] = _mm512_shuffle_ps(a[g], a[g + 2], 0x44);
    b[g + 1] = _mm512_shuffle_ps(a[g], a[g + 2], 0xee);
    b[g + 2] = _mm512_shuffle_ps(a[g + 1], a[g + 3], 0x44);
    b[g + 3] = _mm512_shuffle_ps(a[g + 1], a[g + 3], 0xee);
  }
  // Lane L of b[m], b[4 + m], b[8 + m] and b[12 + m] gathered into column 4L + m.
  for (int m = 0; m < 4; ++m) {
    const __m512 even_low = _mm512_shuffle_f32x4(b[m], b[4 + m], 0x88);
    const __m512 odd_low = _mm512_shuffle_f32x4(b[m], b[4 + m], 0xdd);
    const __m512 even_high = _mm512_shuffle_f32x4(b[8 + m], b[12 + m], 0x88);
    const __m512 odd_high = _mm512_shuffle_f32x4(b[8 + m], b[12 + m], 0xdd);
    r[m] = _mm512_shuffle_f32x4(even_low, even_high, 0x88);
    r[8 + m] = _mm512_shuffle_f32x4(even_low, even_high, 0xdd);
    r[4 + m] = _mm512_shuffle_f32x4(odd_low, odd_high, 0x88);
    r[12 + m] = _mm512_shuffle_f32x4(odd_low, odd_high, 0xdd);
  }
}

}  // namespace clipembed::kernels::avx512
