// The AVX2 path of gemm_s8 (this file alone is compiled with -mavx2 -mfma). AVX2's fast 8-bit
// multiply (vpmaddubsw) adds two products into a saturating 16-bit lane, which overflows for
// 8-bit weights; this path widens both operands to 16 bits and multiplies with vpmaddwd, whose
// pair sums are exact in 32 bits. Tiles of 6 rows by 8 columns; the activation rows are widened
// once per call.
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels/gemm_s8.h"
#include "kernels/math_avx2.h"

namespace clipembed::kernels {
namespace {

constexpr int kRows = 6;

// Finishes 8 columns of integer sums (lanes = columns) into `out` (`cols` of them valid).
void store(__m256i sums, int64_t row, const QuantizedEpilogue& e, int64_t col0, int64_t cols,
           float* out) {
  alignas(32) float scale[8] = {}, bias[8] = {}, y[8] = {};
  alignas(32) int32_t col_sum[8] = {};
  const int64_t n = std::min<int64_t>(8, cols);
  std::memcpy(scale, e.col_scale + col0, static_cast<size_t>(n) * sizeof(float));
  std::memcpy(col_sum, e.col_sum + col0, static_cast<size_t>(n) * sizeof(int32_t));
  if (e.bias != nullptr) std::memcpy(bias, e.bias + col0, static_cast<size_t>(n) * sizeof(float));
  if (e.accumulate) std::memcpy(y, out, static_cast<size_t>(n) * sizeof(float));
  const __m256i zero_sum =
      _mm256_mullo_epi32(_mm256_set1_epi32(e.row_zero[row]),
                         _mm256_load_si256(reinterpret_cast<const __m256i*>(col_sum)));
  const __m256 s = _mm256_mul_ps(_mm256_set1_ps(e.row_scale[row]), _mm256_load_ps(scale));
  const __m256 v = _mm256_mul_ps(s, _mm256_cvtepi32_ps(_mm256_sub_epi32(sums, zero_sum)));
  alignas(32) float result[8];
  _mm256_store_ps(result,
                  avx2::finish(v, _mm256_load_ps(bias), _mm256_load_ps(y), e.act, e.accumulate));
  std::memcpy(out, result, static_cast<size_t>(n) * sizeof(float));
}

// R rows (16-bit codes, stride kp) by the 8 columns of one half of a panel.
template <int R>
void tile(int64_t groups, const int16_t* a, int64_t kp, const int8_t* half, int64_t row0,
          const QuantizedEpilogue& e, int64_t col0, int64_t cols, float* c, int64_t ldc) {
  // Named accumulators rather than an array (see gemm_f32_avx2.cc).
  __m256i c00 = _mm256_setzero_si256(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
  __m256i c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
  for (int64_t g = 0; g < groups; ++g) {
    const int8_t* b = half + g * kPanelWidth * 4;
    // Columns 0-3 and 4-7 of the half, four k each: [c0k0 c0k1 c0k2 c0k3 c1k0 ...] in 16 bits.
    const __m256i b0 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b)));
    const __m256i b1 =
        _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 16)));
#define CLIPEMBED_ROW(r, lo, hi)                           \
  if constexpr (R > (r)) {                                 \
    int64_t quad;                                          \
    std::memcpy(&quad, a + (r)*kp + 4 * g, sizeof quad);   \
    const __m256i x = _mm256_set1_epi64x(quad);            \
    (lo) = _mm256_add_epi32(lo, _mm256_madd_epi16(b0, x)); \
    (hi) = _mm256_add_epi32(hi, _mm256_madd_epi16(b1, x)); \
  }
    CLIPEMBED_ROW(0, c00, c01)
    CLIPEMBED_ROW(1, c10, c11)
    CLIPEMBED_ROW(2, c20, c21)
    CLIPEMBED_ROW(3, c30, c31)
    CLIPEMBED_ROW(4, c40, c41)
    CLIPEMBED_ROW(5, c50, c51)
#undef CLIPEMBED_ROW
  }
  const __m256i acc[kRows][2] = {{c00, c01}, {c10, c11}, {c20, c21},
                                 {c30, c31}, {c40, c41}, {c50, c51}};
  // Each column's sum is split over two adjacent lanes; add them and put the columns in order.
  // The sums leave the registers here, at constant indices (see gemm_f32_avx2.cc).
  const __m256i order = _mm256_setr_epi32(0, 1, 4, 5, 2, 3, 6, 7);
  alignas(32) int32_t sums[R][8];
  for (int r = 0; r < R; ++r) {
    _mm256_store_si256(reinterpret_cast<__m256i*>(sums[r]),
                       _mm256_permutevar8x32_epi32(_mm256_hadd_epi32(acc[r][0], acc[r][1]), order));
  }
  for (int r = 0; r < R; ++r) {
    store(_mm256_load_si256(reinterpret_cast<const __m256i*>(sums[r])), row0 + r, e, col0, cols,
          c + r * ldc + col0);
  }
}

using Tile = void (*)(int64_t, const int16_t*, int64_t, const int8_t*, int64_t,
                      const QuantizedEpilogue&, int64_t, int64_t, float*, int64_t);
constexpr Tile kTiles[kRows + 1] = {nullptr, tile<1>, tile<2>, tile<3>, tile<4>, tile<5>, tile<6>};

}  // namespace

void gemm_s8_avx2(int64_t m, int64_t n, int64_t k, const uint8_t* a, int64_t lda,
                  const int8_t* packed, int64_t panel_begin, int64_t panel_end, float* c,
                  int64_t ldc, const QuantizedEpilogue& e) {
  const int64_t kp = padded_k(k);
  // The activation codes, widened to 16 bits once for every panel of this call. Past 8 MiB widened
  // (SigLIP so400m's fc2 at batch 8: 50 MB, which streamed from memory for every half panel and
  // made int8 slower than fp32) they are taken a block of rows at a time, each block (at most
  // kRowBlockBytes widened) passed over by every panel of the call while it is in L2. Smaller
  // products keep one pass (blocks measured 10-20% slower on them: the panels are read again for
  // every block).
  constexpr int64_t kBlockedBytes = int64_t{8} << 20;
  const int64_t block_rows =
      m * kp * int64_t{sizeof(int16_t)} > kBlockedBytes ? row_block_rows(m, kp / 2, kRows) : m;
  thread_local std::vector<int16_t> wide;
  wide.resize(static_cast<size_t>(std::min(m, block_rows) * kp));
  for (int64_t i0 = 0; i0 < m; i0 += block_rows) {
    const int64_t block = std::min(block_rows, m - i0);
    for (int64_t i = 0; i < block; ++i) {
      for (int64_t p = 0; p < kp; ++p) {
        wide[static_cast<size_t>(i * kp + p)] = a[(i0 + i) * lda + p];
      }
    }
    for (int64_t t = panel_begin; t < panel_end; ++t) {
      const int8_t* panel = packed + t * kPanelWidth * kp;
      for (int64_t h = 0; h < 2; ++h) {
        const int64_t col0 = t * kPanelWidth + 8 * h, cols = n - col0;
        if (cols <= 0) break;
        for (int64_t i = 0; i < block; i += kRows) {
          const int64_t rows = std::min<int64_t>(kRows, block - i);
          kTiles[rows](kp / 4, wide.data() + i * kp, kp, panel + 8 * h * 4, i0 + i, e, col0, cols,
                       c + (i0 + i) * ldc, ldc);
        }
      }
    }
  }
}

}  // namespace clipembed::kernels
