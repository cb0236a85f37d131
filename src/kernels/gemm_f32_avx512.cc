// The AVX-512 path of gemm_f32 (this file alone is compiled with the AVX-512 flags): tiles of up
// to 14 rows by two 16-column panels, 28 accumulators in registers, one fma per element and k
// step, in k order (the scalar path's chain, lane by lane).
#include <immintrin.h>

#include <algorithm>
#include <array>
#include <tuple>
#include <utility>

#include "kernels/gemm_f32.h"
#include "kernels/tile_store_avx512.h"

namespace clipembed::kernels {
namespace {

constexpr int kRows = 14;
// The first tiles of each pair of panels also fetch the next pair from memory (its weights' first
// use in this pass), so that its rows find them in cache: a pass with few rows (batch 1) otherwise
// waits on memory at the start of every pair. Later tiles skip the prefetches, which only cost.
constexpr int64_t kPrefetchRows = 4 * kRows;

// Products whose activations pass this size are computed in blocks (gemm_f32_avx512 below).
constexpr int64_t kBlockedBytes = int64_t{8} << 20;
// The blocks: rows (whole tiles) by k steps of the activations, kept in L2 while every pair of a
// group of pairs multiplies them; the group's weights for those k steps stay in L2 beside them.
constexpr int64_t kBlockTiles = 8;
constexpr int64_t kBlockK = 512;
constexpr int64_t kGroupPairs = 4;

// One tile's running sums between blocks of k: stored and reloaded as they are, so each is still
// one fma chain in k order (the same bits as an unblocked pass).
struct Partial {
  alignas(64) float sums[kRows][2][kPanelWidth];
};

// R rows by P panels; `cols` is the valid width of the last panel. The sums start from `from`
// (else 0) and end in `to` (else they are finished into c).
template <int R, int P, bool Prefetch>
void tile(int64_t k, const float* a, int64_t lda, const float* panels, int64_t panel_stride,
          const float* next, float* c, int64_t ldc, int64_t cols, const float* bias,
          const Epilogue& e, const Partial* from, Partial* to) {
  __m512 acc[R][P];
  for (int r = 0; r < R; ++r) {
    for (int q = 0; q < P; ++q) {
      acc[r][q] = from != nullptr ? _mm512_load_ps(from->sums[r][q]) : _mm512_setzero_ps();
    }
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
  if (to != nullptr) {
    for (int r = 0; r < R; ++r) {
      for (int q = 0; q < P; ++q) _mm512_store_ps(to->sums[r][q], acc[r][q]);
    }
    return;
  }
  avx512::store_tile<R, P>(acc, c, ldc, cols, bias, e);
}

using Tile = void (*)(int64_t, const float*, int64_t, const float*, int64_t, const float*, float*,
                      int64_t, int64_t, const float*, const Epilogue&, const Partial*, Partial*);

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
  auto pair_of = [&](int64_t t, int64_t end) {
    const int panels = t + 1 < end ? 2 : 1;
    const int64_t col0 = t * kPanelWidth;
    return std::tuple{panels, packed + t * panel_stride, col0,
                      std::min(kPanelWidth, n - (t + panels - 1) * kPanelWidth),
                      e.bias != nullptr ? e.bias + col0 : nullptr};
  };
  if (m * k * int64_t{sizeof(float)} > kBlockedBytes) {
    // Activations this large no longer stay in cache from one pair of panels to the next, and
    // streaming all of them again for every pair bounds the pass by memory. So a block of rows by
    // k steps is multiplied by a group of pairs while it is in L2, and the group's weights are
    // read again for each block of rows instead (far fewer bytes: GotoBLAS's loop order).
    Partial partial[kGroupPairs][kBlockTiles];
    for (int64_t g = panel_begin; g < panel_end; g += 2 * kGroupPairs) {
      const int64_t group_end = std::min(panel_end, g + 2 * kGroupPairs);
      for (int64_t i0 = 0; i0 < m; i0 += kBlockTiles * kRows) {
        const int64_t rows_end = std::min(m, i0 + kBlockTiles * kRows);
        for (int64_t kb = 0; kb < k; kb += kBlockK) {
          const int64_t kl = std::min(kBlockK, k - kb);
          for (int64_t t = g; t < group_end; t += 2) {
            const auto [panels, first, col0, last_cols, bias] = pair_of(t, group_end);
            for (int64_t i = i0; i < rows_end; i += kRows) {
              const int64_t rows = std::min<int64_t>(kRows, m - i);
              Partial* sums = &partial[(t - g) / 2][(i - i0) / kRows];
              (panels == 1 ? kOne : kTwo)[rows - 1](
                  kl, a + i * lda + kb, lda, first + kb * kPanelWidth, panel_stride, first,
                  c + i * ldc + col0, ldc, last_cols, bias, e, kb == 0 ? nullptr : sums,
                  kb + kl == k ? nullptr : sums);
            }
          }
        }
      }
    }
    return;
  }
  const int64_t block_rows = row_block_rows(m, lda, kRows);
  for (int64_t i0 = 0; i0 < m; i0 += block_rows) {
    const int64_t rows_end = std::min(m, i0 + block_rows);
    for (int64_t t = panel_begin; t < panel_end; t += 2) {
      const auto [panels, first, col0, last_cols, bias] = pair_of(t, panel_end);
      // The pair after this one, if whole (else this one, which is never prefetched), fetched
      // during the first block only: later blocks find it in cache.
      const float* next = i0 == 0 && t + 3 < panel_end ? first + 2 * panel_stride : first;
      for (int64_t i = i0; i < rows_end; i += kRows) {
        const int64_t rows = std::min<int64_t>(kRows, m - i);
        const Tile run = panels == 1                          ? kOne[rows - 1]
                         : i < kPrefetchRows && next != first ? kTwoPrefetching[rows - 1]
                                                              : kTwo[rows - 1];
        run(k, a + i * lda, lda, first, panel_stride, next, c + i * ldc + col0, ldc, last_cols,
            bias, e, nullptr, nullptr);
      }
    }
  }
}

}  // namespace clipembed::kernels
