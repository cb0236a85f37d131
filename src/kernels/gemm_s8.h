// Internal kernel: exact integer products of 8-bit codes for the int8 path, with the
// dequantization, bias and activation (or residual add) fused into the store.
//
// Activations are u8 codes per row (a zero point each), weights s8 codes per output channel,
// packed at load into panels of kPanelWidth columns with k in groups of four. Each element's
// integer sum is exact on every path (the AVX2 path multiplies 16-bit lanes with vpmaddwd, the
// AVX-512 path uses VNNI's vpdpbusd; neither saturates), so all paths give the same bits and a
// row's result never depends on its batch.
#pragma once

#include <cstdint>

#include "kernels/activation.h"
#include "kernels/gemm_f32.h"
#include "kernels/isa.h"

namespace clipembed::kernels {

// k rounded up to whole groups of four: packed weights and activation rows are zero-padded to it.
inline int64_t padded_k(int64_t k) { return (k + 3) / 4 * 4; }

inline int64_t packed_s8_size(int64_t n, int64_t k) {
  return panel_count(n) * kPanelWidth * padded_k(k);
}

// Packs `count` (<= kPanelWidth) consecutive output rows of codes (rows of k) into one panel (at
// packed + t * kPanelWidth * padded_k(k) for panel t): padded_k(k) / 4 groups of
// kPanelWidth x 4 codes, element (g, j, q) = rows[j][4g + q]; codes past `count` or k are 0.
void pack_s8_panel(const int8_t* rows, int64_t count, int64_t k, int8_t* panel);

// y = row_scale * col_scale * (sum - row_zero * col_sum) (in float, after the exact integer
// part), then math_scalar.h's finish() with the bias.
struct QuantizedEpilogue {
  const float* row_scale = nullptr;   // [m]
  const int32_t* row_zero = nullptr;  // [m]
  const float* col_scale = nullptr;   // [n]
  const int32_t* col_sum = nullptr;   // [n] sums of each output channel's codes.
  const float* bias = nullptr;        // [n], or null.
  Activation act = Activation::kNone;
  bool accumulate = false;
};

// For rows [0, m) of codes a (stride lda >= padded_k(k), zero-padded) and the columns of panels
// [panel_begin, panel_end) (below n): c[i][j] = the epilogue of sum over p of a[i][p] * w[j][p].
void gemm_s8(Isa isa, int64_t m, int64_t n, int64_t k, const uint8_t* a, int64_t lda,
             const int8_t* packed, int64_t panel_begin, int64_t panel_end, float* c, int64_t ldc,
             const QuantizedEpilogue& epilogue);

// The ISA paths, for tests; gemm_s8() dispatches to them.
void gemm_s8_scalar(int64_t m, int64_t n, int64_t k, const uint8_t* a, int64_t lda,
                    const int8_t* packed, int64_t panel_begin, int64_t panel_end, float* c,
                    int64_t ldc, const QuantizedEpilogue& epilogue);
void gemm_s8_avx2(int64_t m, int64_t n, int64_t k, const uint8_t* a, int64_t lda,
                  const int8_t* packed, int64_t panel_begin, int64_t panel_end, float* c,
                  int64_t ldc, const QuantizedEpilogue& epilogue);
void gemm_s8_avx512(int64_t m, int64_t n, int64_t k, const uint8_t* a, int64_t lda,
                    const int8_t* packed, int64_t panel_begin, int64_t panel_end, float* c,
                    int64_t ldc, const QuantizedEpilogue& epilogue);

}  // namespace clipembed::kernels
