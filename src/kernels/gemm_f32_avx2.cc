// The AVX2 + FMA path of gemm_f32 (this file alone is compiled with -mavx2 -mfma): tiles of 6 rows
// by one 16-column panel, 12 accumulators in registers, one fma per element and k step, in k order
// (the scalar path's chain, lane by lane).
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <tuple>

#include "kernels/gemm_f32.h"
#include "kernels/math_avx2.h"

namespace clipembed::kernels {
namespace {

constexpr int kRows = 6;

// Products whose activations pass this size are computed in blocks, as in gemm_f32_avx512.cc:
// rows (whole tiles) by k steps of the activations, multiplied by a group of panels while in L2.
constexpr int64_t kBlockedBytes = int64_t{8} << 20;
constexpr int64_t kBlockTiles = 18;
constexpr int64_t kBlockK = 256;
constexpr int64_t kGroupPanels = 8;

// One tile's running sums between blocks of k, stored and reloaded as they are (the same chain).
struct Partial {
  alignas(32) float sums[kRows][kPanelWidth];
};

// R rows by one panel; `cols` is the valid width of the panel. The sums start from `from` (else
// 0) and end in `to` (else they are finished into c).
template <int R>
void tile(int64_t k, const float* a, int64_t lda, const float* panel, float* c, int64_t ldc,
          int64_t cols, const float* bias, const Epilogue& e, const Partial* from, Partial* to) {
  // Twelve named accumulators rather than an array: GCC keeps an array of this size in memory and
  // stores it at every k step, which halved the kernel's speed.
  __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
  __m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
  if (from != nullptr) {
#define CLIPEMBED_LOAD(r, lo, hi)             \
  if constexpr (R > (r)) {                    \
    (lo) = _mm256_load_ps(from->sums[r]);     \
    (hi) = _mm256_load_ps(from->sums[r] + 8); \
  }
    CLIPEMBED_LOAD(0, c00, c01)
    CLIPEMBED_LOAD(1, c10, c11)
    CLIPEMBED_LOAD(2, c20, c21)
    CLIPEMBED_LOAD(3, c30, c31)
    CLIPEMBED_LOAD(4, c40, c41)
    CLIPEMBED_LOAD(5, c50, c51)
#undef CLIPEMBED_LOAD
  }
  for (int64_t p = 0; p < k; ++p) {
    const __m256 b0 = _mm256_load_ps(panel + p * kPanelWidth);
    const __m256 b1 = _mm256_load_ps(panel + p * kPanelWidth + 8);
#define CLIPEMBED_ROW(r, lo, hi)                           \
  if constexpr (R > (r)) {                                 \
    const __m256 x = _mm256_broadcast_ss(a + (r)*lda + p); \
    (lo) = _mm256_fmadd_ps(x, b0, lo);                     \
    (hi) = _mm256_fmadd_ps(x, b1, hi);                     \
  }
    CLIPEMBED_ROW(0, c00, c01)
    CLIPEMBED_ROW(1, c10, c11)
    CLIPEMBED_ROW(2, c20, c21)
    CLIPEMBED_ROW(3, c30, c31)
    CLIPEMBED_ROW(4, c40, c41)
    CLIPEMBED_ROW(5, c50, c51)
#undef CLIPEMBED_ROW
  }
  const __m256 acc[kRows][2] = {{c00, c01}, {c10, c11}, {c20, c21},
                                {c30, c31}, {c40, c41}, {c50, c51}};
  // The sums leave the registers here, at constant indices: an accumulator indexed in a loop the
  // compiler does not unroll would be kept in memory, and stored at every k step.
  alignas(32) float sums[R][kPanelWidth];
  for (int r = 0; r < R; ++r) {
    _mm256_store_ps(to != nullptr ? to->sums[r] : sums[r], acc[r][0]);
    _mm256_store_ps(to != nullptr ? to->sums[r] + 8 : sums[r] + 8, acc[r][1]);
  }
  if (to != nullptr) return;
  // A panel cut by n finishes through a full-width buffer, lane for lane the same.
  alignas(32) float bias_buffer[kPanelWidth] = {}, out_buffer[kPanelWidth] = {};
  if (bias != nullptr && cols < kPanelWidth) {
    std::memcpy(bias_buffer, bias, static_cast<size_t>(cols) * sizeof(float));
  }
  const float* b = bias == nullptr ? nullptr : (cols < kPanelWidth ? bias_buffer : bias);
  const __m256 bias0 = b != nullptr ? _mm256_loadu_ps(b) : _mm256_setzero_ps();
  const __m256 bias1 = b != nullptr ? _mm256_loadu_ps(b + 8) : _mm256_setzero_ps();
  for (int r = 0; r < R; ++r) {
    float* out = c + r * ldc;
    float* dst = cols < kPanelWidth ? out_buffer : out;
    if (cols < kPanelWidth && e.accumulate) {
      std::memcpy(out_buffer, out, static_cast<size_t>(cols) * sizeof(float));
    }
    const __m256 y0 = e.accumulate ? _mm256_loadu_ps(dst) : _mm256_setzero_ps();
    const __m256 y1 = e.accumulate ? _mm256_loadu_ps(dst + 8) : _mm256_setzero_ps();
    _mm256_storeu_ps(dst, avx2::finish(_mm256_load_ps(sums[r]), bias0, y0, e.act, e.accumulate));
    _mm256_storeu_ps(dst + 8,
                     avx2::finish(_mm256_load_ps(sums[r] + 8), bias1, y1, e.act, e.accumulate));
    if (cols < kPanelWidth) std::memcpy(out, out_buffer, static_cast<size_t>(cols) * sizeof(float));
  }
}

using Tile = void (*)(int64_t, const float*, int64_t, const float*, float*, int64_t, int64_t,
                      const float*, const Epilogue&, const Partial*, Partial*);
constexpr Tile kTiles[kRows + 1] = {nullptr, tile<1>, tile<2>, tile<3>, tile<4>, tile<5>, tile<6>};

}  // namespace

void gemm_f32_avx2(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda,
                   const float* packed, int64_t panel_begin, int64_t panel_end, float* c,
                   int64_t ldc, const Epilogue& e) {
  auto panel_of = [&](int64_t t) {
    const int64_t col0 = t * kPanelWidth;
    return std::tuple{packed + t * kPanelWidth * k, col0, std::min(kPanelWidth, n - col0),
                      e.bias != nullptr ? e.bias + col0 : nullptr};
  };
  if (m * k * int64_t{sizeof(float)} > kBlockedBytes) {
    // See gemm_f32_avx512.cc: activations this large are read once per group of panels, not once
    // per panel.
    Partial partial[kGroupPanels][kBlockTiles];
    for (int64_t g = panel_begin; g < panel_end; g += kGroupPanels) {
      const int64_t group_end = std::min(panel_end, g + kGroupPanels);
      for (int64_t i0 = 0; i0 < m; i0 += kBlockTiles * kRows) {
        const int64_t rows_end = std::min(m, i0 + kBlockTiles * kRows);
        for (int64_t kb = 0; kb < k; kb += kBlockK) {
          const int64_t kl = std::min(kBlockK, k - kb);
          for (int64_t t = g; t < group_end; ++t) {
            const auto [panel, col0, cols, bias] = panel_of(t);
            for (int64_t i = i0; i < rows_end; i += kRows) {
              Partial* sums = &partial[t - g][(i - i0) / kRows];
              kTiles[std::min<int64_t>(kRows, m - i)](
                  kl, a + i * lda + kb, lda, panel + kb * kPanelWidth, c + i * ldc + col0, ldc,
                  cols, bias, e, kb == 0 ? nullptr : sums, kb + kl == k ? nullptr : sums);
            }
          }
        }
      }
    }
    return;
  }
  for (int64_t t = panel_begin; t < panel_end; ++t) {
    const auto [panel, col0, cols, bias] = panel_of(t);
    for (int64_t i = 0; i < m; i += kRows) {
      kTiles[std::min<int64_t>(kRows, m - i)](k, a + i * lda, lda, panel, c + i * ldc + col0, ldc,
                                              cols, bias, e, nullptr, nullptr);
    }
  }
}

}  // namespace clipembed::kernels
