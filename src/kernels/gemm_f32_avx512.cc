// The AVX-512 path of gemm_f32 (this file alone is compiled with the AVX-512 flags): tiles of up
// to 14 rows by two 16-column panels, 28 accumulators in registers, one fma per element and k
// step, in k order (the scalar path's chain, lane by lane).
#include <immintrin.h>

#include <algorithm>
#include <array>
#include <utility>

#include "kernels/gemm_f32.h"
#include "kernels/math_avx512.h"

namespace clipembed::kernels {
namespace {

constexpr int kRows = 14;
// The first tiles of each pair of panels also fetch the next pair from memory (its weights' first
// use in this pass), so that its rows find them in cache: a pass with few rows (batch 1) otherwise
// waits on memory at the start of every pair. Later tiles skip the prefetches, which only cost.
constexpr int64_t kPrefetchRows = 4 * kRows;

// R rows by P panels; `cols` is the valid width of the last panel.
template <int R, int P, bool Prefetch>
void tile(int64_t k, const float* a, int64_t lda, const float* panels, int64_t panel_stride,
          const float* next, float* c, int64_t ldc, int64_t cols, const float* bias,
          const Epilogue& e) {
  __m512 acc[R][P];
  for (int r = 0; r < R; ++r) {
    for (int q = 0; q < P; ++q) acc[r][q] = _mm512_setzero_ps();
  }
  for (int64_t p = 0; p < k; ++p) {
    __m512 b[P];
    for (int q = 0; q < P; ++q) b[q] = _mm512_load_ps(panels + q * panel_stride + p * kPanelWidth);
    if constexpr (Prefetch) {
      _mm_prefetch(reinterpret_cast<const char*>(next + p * kPanelWidth), _MM_HINT_T1);
      _mm_prefetch(reinterpret_cast<const char*>(next + panel_stride + p * kPanelWidth),
                   _MM_HINT_T1);
    }
    for (int r = 0; r < R; ++r) {
      const __m512 x = _mm512_set1_ps(a[r * lda + p]);
      for (int q = 0; q < P; ++q) acc[r][q] = _mm512_fmadd_ps(x, b[q], acc[r][q]);
    }
  }
  // The sums leave the registers here, at constant indices (see gemm_f32_avx2.cc).
  alignas(64) float sums[R][P][kPanelWidth];
  for (int r = 0; r < R; ++r) {
    for (int q = 0; q < P; ++q) _mm512_store_ps(sums[r][q], acc[r][q]);
  }
  for (int q = 0; q < P; ++q) {
    const int64_t width = q + 1 == P ? cols : kPanelWidth;
    const __mmask16 mask = static_cast<__mmask16>((1u << width) - 1u);
    const __m512 bias_v =
        bias != nullptr ? _mm512_maskz_loadu_ps(mask, bias + q * kPanelWidth) : _mm512_setzero_ps();
    for (int r = 0; r < R; ++r) {
      float* out = c + r * ldc + q * kPanelWidth;
      const __m512 y = e.accumulate ? _mm512_maskz_loadu_ps(mask, out) : _mm512_setzero_ps();
      _mm512_mask_storeu_ps(
          out, mask, avx512::finish(_mm512_load_ps(sums[r][q]), bias_v, y, e.act, e.accumulate));
    }
  }
}

using Tile = void (*)(int64_t, const float*, int64_t, const float*, int64_t, const float*, float*,
                      int64_t, int64_t, const float*, const Epilogue&);

template <int P, bool Prefetch, int... R>
constexpr auto tiles(std::integer_sequence<int, R...>) {
  return std::array<Tile, sizeof...(R)>{tile<R + 1, P, Prefetch>...};
}

}  // namespace

void gemm_f32_avx512(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda,
                     const float* packed, int64_t panel_begin, int64_t panel_end, float* c,
                     int64_t ldc, const Epilogue& e) {
  static constexpr auto kOne = tiles<1, false>(std::make_integer_sequence<int, kRows>());
  static constexpr auto kTwo = tiles<2, false>(std::make_integer_sequence<int, kRows>());
  static constexpr auto kTwoPrefetching = tiles<2, true>(std::make_integer_sequence<int, kRows>());
  const int64_t panel_stride = kPanelWidth * k;
  for (int64_t t = panel_begin; t < panel_end; t += 2) {
    const int panels = t + 1 < panel_end ? 2 : 1;
    const float* first = packed + t * panel_stride;
    // The pair after this one, if whole (else this one, which is never prefetched).
    const float* next = t + 3 < panel_end ? first + 2 * panel_stride : first;
    const int64_t col0 = t * kPanelWidth;
    const int64_t last_cols = std::min(kPanelWidth, n - (t + panels - 1) * kPanelWidth);
    const float* bias = e.bias != nullptr ? e.bias + col0 : nullptr;
    for (int64_t i = 0; i < m; i += kRows) {
      const int64_t rows = std::min<int64_t>(kRows, m - i);
      const Tile run = panels == 1                          ? kOne[rows - 1]
                       : i < kPrefetchRows && next != first ? kTwoPrefetching[rows - 1]
                                                            : kTwo[rows - 1];
      run(k, a + i * lda, lda, first, panel_stride, next, c + i * ldc + col0, ldc, last_cols, bias,
          e);
    }
  }
}

}  // namespace clipembed::kernels
