// Internal: a block of 8 x 8 floats transposed in AVX2 registers (attention's keys, layer norm's
// rows). Only for files compiled with the AVX2 flags; static inline, so each of them has its own
// copy, compiled for its ISA.
#pragma once

#include <immintrin.h>

namespace clipembed::kernels::avx2 {

// r[0..7] (row i's 8 floats in r[i]) becomes its transpose (column c's in r[c]).
static inline void transpose_8x8(__m256 r[8]) {
  __m256 a[8], b[8];
  // Rows paired element by element: within each 128-bit half, [x0 y0 x1 y1] and [x2 y2 x3 y3].
  for (int i = 0; i < 8; i += 2) {
    a[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
    a[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
  }
  // Four rows per half: b[4g + m] holds column 4h + m of rows 4g..4g+3 in half h.
  for (int g = 0; g < 8; g += 4) {
    b[g] = _mm256_shuffle_ps(a[g], a[g + 2], 0x44);
    b[g + 1] = _mm256_shuffle_ps(a[g], a[g + 2], 0xee);
    b[g + 2] = _mm256_shuffle_ps(a[g + 1], a[g + 3], 0x44);
    b[g + 3] = _mm256_shuffle_ps(a[g + 1], a[g + 3], 0xee);
  }
  // Half h of b[m] and b[4 + m] joined into column 4h + m.
  for (int m = 0; m < 4; ++m) {
    r[m] = _mm256_permute2f128_ps(b[m], b[4 + m], 0x20);
    r[4 + m] = _mm256_permute2f128_ps(b[m], b[4 + m], 0x31);
  }
}

}  // namespace clipembed::kernels::avx2
