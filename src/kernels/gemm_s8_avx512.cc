// The AVX-512 path of gemm_s8 (this file alone is compiled with the AVX-512 and VNNI flags):
// vpdpbusd multiplies four u8 activations by four s8 weights and adds them into a 32-bit lane,
// exactly. Tiles of up to 14 rows by two panels, one instruction per row, panel and group of 4.
#include <immintrin.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <utility>

#include "kernels/gemm_s8.h"
#include "kernels/math_avx512.h"

namespace clipembed::kernels {
namespace {

constexpr int kRows = 14;
// The first tiles of each pair of panels also fetch the next pair from memory (its weights' first
// use in this pass), so that its rows find them in cache: a pass with few rows (batch 1) otherwise
// waits on memory at the start of every pair. Later tiles skip the prefetches, which only cost.
constexpr int64_t kPrefetchRows = 4 * kRows;

// acc + the sums of four u8 x s8 products per lane (vpdpbusd). Written as inline assembly because
// GCC 12 copies every accumulator through the stack around the intrinsic's tied operand, which
// halved the kernel's speed.
inline __m512i dot_add(__m512i acc, __m512i u8, __m512i s8) {
  asm("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(u8), "v"(s8));
  return acc;
}

template <int R, int P, bool Prefetch>
void tile(int64_t groups, const uint8_t* a, int64_t lda, const int8_t* panels, int64_t panel_stride,
          const int8_t* next, int64_t row0, const QuantizedEpilogue& e, int64_t col0, int64_t cols,
          float* c, int64_t ldc) {
  __m512i acc[R][P];
  for (int r = 0; r < R; ++r) {
    for (int q = 0; q < P; ++q) acc[r][q] = _mm512_setzero_si512();
  }
  for (int64_t g = 0; g < groups; ++g) {
    __m512i b[P];
    for (int q = 0; q < P; ++q) {
      b[q] = _mm512_load_si512(panels + q * panel_stride + g * kPanelWidth * 4);
    }
    if constexpr (Prefetch) {
      _mm_prefetch(reinterpret_cast<const char*>(next + g * kPanelWidth * 4), _MM_HINT_T1);
      _mm_prefetch(reinterpret_cast<const char*>(next + panel_stride + g * kPanelWidth * 4),
                   _MM_HINT_T1);
    }
    for (int r = 0; r < R; ++r) {
      int32_t quad;
      std::memcpy(&quad, a + r * lda + 4 * g, sizeof quad);
      const __m512i x = _mm512_set1_epi32(quad);
      for (int q = 0; q < P; ++q) acc[r][q] = dot_add(acc[r][q], x, b[q]);
    }
  }
  // The sums leave the registers here, at constant indices (see gemm_f32_avx2.cc).
  alignas(64) int32_t sums[R][P][kPanelWidth];
  for (int r = 0; r < R; ++r) {
    for (int q = 0; q < P; ++q) _mm512_store_si512(sums[r][q], acc[r][q]);
  }
  for (int q = 0; q < P; ++q) {
    const int64_t first = col0 + q * kPanelWidth;
    const int64_t width = std::min(kPanelWidth, cols - q * kPanelWidth);
    const __mmask16 mask = static_cast<__mmask16>((1u << width) - 1u);
    const __m512 col_scale = _mm512_maskz_loadu_ps(mask, e.col_scale + first);
    const __m512i col_sum = _mm512_maskz_loadu_epi32(mask, e.col_sum + first);
    const __m512 bias =
        e.bias != nullptr ? _mm512_maskz_loadu_ps(mask, e.bias + first) : _mm512_setzero_ps();
    for (int r = 0; r < R; ++r) {
      float* out = c + (row0 + r) * ldc + first;
      const __m512i zero_sum = _mm512_mullo_epi32(_mm512_set1_epi32(e.row_zero[row0 + r]), col_sum);
      const __m512 s = _mm512_mul_ps(_mm512_set1_ps(e.row_scale[row0 + r]), col_scale);
      const __m512 v = _mm512_mul_ps(
          s, _mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_load_si512(sums[r][q]), zero_sum)));
      const __m512 y = e.accumulate ? _mm512_maskz_loadu_ps(mask, out) : _mm512_setzero_ps();
      _mm512_mask_storeu_ps(out, mask, avx512::finish(v, bias, y, e.act, e.accumulate));
    }
  }
}

using Tile = void (*)(int64_t, const uint8_t*, int64_t, const int8_t*, int64_t, const int8_t*,
                      int64_t, const QuantizedEpilogue&, int64_t, int64_t, float*, int64_t);

template <int P, bool Prefetch, int... R>
constexpr auto tiles(std::integer_sequence<int, R...>) {
  return std::array<Tile, sizeof...(R)>{tile<R + 1, P, Prefetch>...};
}

}  // namespace

void gemm_s8_avx512(int64_t m, int64_t n, int64_t k, const uint8_t* a, int64_t lda,
                    const int8_t* packed, int64_t panel_begin, int64_t panel_end, float* c,
                    int64_t ldc, const QuantizedEpilogue& e) {
  static constexpr auto kOne = tiles<1, false>(std::make_integer_sequence<int, kRows>());
  static constexpr auto kTwo = tiles<2, false>(std::make_integer_sequence<int, kRows>());
  static constexpr auto kTwoPrefetching = tiles<2, true>(std::make_integer_sequence<int, kRows>());
  const int64_t kp = padded_k(k), panel_stride = kPanelWidth * kp;
  // Rows are taken in blocks of whole tiles whose codes (at most kRowBlockBytes) stay in L2 while
  // every panel of the call passes over them, as in the float32 path: SigLIP so400m's fc2 codes
  // at batch 8 (25 MB) otherwise stream from memory once for every pair of panels.
  const int64_t block_rows = row_block_rows(m, (lda + 3) / 4, kRows);
  for (int64_t i0 = 0; i0 < m; i0 += block_rows) {
    const int64_t rows_end = std::min(m, i0 + block_rows);
    for (int64_t t = panel_begin; t < panel_end; t += 2) {
      const int panels = t + 1 < panel_end ? 2 : 1;
      const int64_t col0 = t * kPanelWidth;
      const int8_t* first = packed + t * panel_stride;
      // The pair after this one, if whole (else this one, never prefetched), in the first block.
      const int8_t* next = i0 == 0 && t + 3 < panel_end ? first + 2 * panel_stride : first;
      for (int64_t i = i0; i < rows_end; i += kRows) {
        const int64_t rows = std::min<int64_t>(kRows, m - i);
        const Tile run = panels == 1                          ? kOne[rows - 1]
                         : i < kPrefetchRows && next != first ? kTwoPrefetching[rows - 1]
                                                              : kTwo[rows - 1];
        run(kp / 4, a + i * lda, lda, first, panel_stride, next, i, e, col0, n - col0, c, ldc);
      }
    }
  }
}

}  // namespace clipembed::kernels
