// The AVX512_BF16 path of gemm_bf16 (this file alone is compiled with those flags): tiles of up to
// 14 rows by two 16-column panels, 28 float32 accumulators in registers, one vdpbf16ps per row,
// panel and pair of k steps, in k order (the scalar reference's chain, lane by lane).
#include <immintrin.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <tuple>
#include <utility>

#include "kernels/gemm_bf16.h"
#include "kernels/tile_store_avx512.h"

namespace clipembed::kernels {
namespace {

constexpr int kRows = 14;
// As in gemm_f32_avx512.cc: the first tiles of each pair of panels fetch the next pair.
constexpr int64_t kPrefetchRows = 4 * kRows;
// Pair steps of one panel line: 16 lanes of two bf16 values, 64 bytes.
constexpr int64_t kLine = 2 * kPanelWidth;

// R rows by P panels; `cols` is the valid width of the last panel.
template <int R, int P, bool Prefetch>
void tile(int64_t pairs, const uint16_t* a, int64_t lda, const uint16_t* panels,
          int64_t panel_stride, const uint16_t* next, float* c, int64_t ldc, int64_t cols,
          const float* bias, const Epilogue& e) {
  __m512 acc[R][P];
  // Fully unrolled (GCC does not peel loops holding vdpbf16ps on its own), so that the
  // accumulators live in registers.
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r) {
#pragma GCC unroll 2
    for (int q = 0; q < P; ++q) acc[r][q] = _mm512_setzero_ps();
  }
  for (int64_t s = 0; s < pairs; ++s) {
    __m512bh b[P];
#pragma GCC unroll 2
    for (int q = 0; q < P; ++q) {
      b[q] = reinterpret_cast<__m512bh>(_mm512_load_si512(panels + q * panel_stride + s * kLine));
    }
    if constexpr (Prefetch) {
      _mm_prefetch(reinterpret_cast<const char*>(next + s * kLine), _MM_HINT_T1);
      _mm_prefetch(reinterpret_cast<const char*>(next + panel_stride + s * kLine), _MM_HINT_T1);
    }
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
      int32_t pair = 0;
      std::memcpy(&pair, a + r * lda + 2 * s, sizeof(pair));
      const auto x = reinterpret_cast<__m512bh>(_mm512_set1_epi32(pair));
#pragma GCC unroll 2
      for (int q = 0; q < P; ++q) acc[r][q] = _mm512_dpbf16_ps(acc[r][q], x, b[q]);
    }
  }
  avx512::store_tile<R, P>(acc, c, ldc, cols, bias, e);
}

using Tile = void (*)(int64_t, const uint16_t*, int64_t, const uint16_t*, int64_t, const uint16_t*,
                      float*, int64_t, int64_t, const float*, const Epilogue&);

template <int P, bool Prefetch, int... R>
constexpr auto tiles(std::integer_sequence<int, R...>) {
  return std::array<Tile, sizeof...(R)>{tile<R + 1, P, Prefetch>...};
}

}  // namespace

void gemm_bf16_avx512(int64_t m, int64_t n, int64_t k, const uint16_t* a, int64_t lda,
                      const uint16_t* packed, int64_t panel_begin, int64_t panel_end, float* c,
                      int64_t ldc, const Epilogue& e) {
  static constexpr auto kOne = tiles<1, false>(std::make_integer_sequence<int, kRows>());
  static constexpr auto kTwo = tiles<2, false>(std::make_integer_sequence<int, kRows>());
  static constexpr auto kTwoPrefetching = tiles<2, true>(std::make_integer_sequence<int, kRows>());
  const int64_t pairs = bf16_pairs(k), panel_stride = kLine * pairs;
  // Rows are taken in blocks of whole tiles whose activations (at most kRowBlockBytes) stay in L2
  // while every panel of the call passes over them, as in the float32 path's unblocked loop.
  const int64_t block_rows = row_block_rows(m, (lda + 1) / 2, kRows);
  for (int64_t i0 = 0; i0 < m; i0 += block_rows) {
    const int64_t rows_end = std::min(m, i0 + block_rows);
    for (int64_t t = panel_begin; t < panel_end; t += 2) {
      const int panels = t + 1 < panel_end ? 2 : 1;
      const int64_t col0 = t * kPanelWidth;
      const uint16_t* first = packed + t * panel_stride;
      const int64_t last_cols = std::min(kPanelWidth, n - (t + panels - 1) * kPanelWidth);
      const float* bias = e.bias != nullptr ? e.bias + col0 : nullptr;
      // The pair after this one, if whole (else this one, never prefetched), in the first block.
      const uint16_t* next = i0 == 0 && t + 3 < panel_end ? first + 2 * panel_stride : first;
      for (int64_t i = i0; i < rows_end; i += kRows) {
        const int64_t rows = std::min<int64_t>(kRows, m - i);
        const Tile run = panels == 1                          ? kOne[rows - 1]
                         : i < kPrefetchRows && next != first ? kTwoPrefetching[rows - 1]
                                                              : kTwo[rows - 1];
        run(pairs, a + i * lda, lda, first, panel_stride, next, c + i * ldc + col0, ldc, last_cols,
            bias, e);
      }
    }
  }
}

void convert_bf16_rows_avx512(const float* x, int64_t ldx, int64_t k, int64_t row_begin,
                              int64_t row_end, uint16_t* out, int64_t ldo) {
  // Every value up to the even length is written: loads past k read zeros, which convert to 0.
  const int64_t width = 2 * bf16_pairs(k);
  for (int64_t i = row_begin; i < row_end; ++i) {
    for (int64_t p = 0; p < width; p += 16) {
      const int64_t loaded = std::clamp<int64_t>(k - p, 0, 16);
      const int64_t stored = std::min<int64_t>(width - p, 16);
      const auto load_mask = static_cast<__mmask16>((1u << loaded) - 1u);
      const auto store_mask = static_cast<__mmask16>((1u << stored) - 1u);
      const __m256bh h = _mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(load_mask, x + i * ldx + p));
      _mm256_mask_storeu_epi16(out + i * ldo + p, store_mask, reinterpret_cast<__m256i>(h));
    }
  }
}

}  // namespace clipembed::kernels
