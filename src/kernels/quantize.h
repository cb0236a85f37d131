// Internal kernels: 8-bit quantization for the int8 path (Precision::kInt8).
//
// Activations are quantized per row (per token) to unsigned codes with a zero point; weights per
// output row (channel) to signed codes without one. A product of the codes, done in exact integer
// arithmetic, is then turned back into floats with one scale per row and per column:
//   y[i][j] = row_scale[i] * col_scale[j] * (sum_k a[i][k] w[j][k] - row_zero[i] * col_sum[j]).
#pragma once

#include <cstdint>

namespace clipembed::kernels {

// The code ranges the int8 path uses on every CPU: the full 8 bits for both. The products are
// exact on every path (gemm_s8.h), so results do not depend on which instructions the CPU has.
constexpr int32_t kActivationCodeMax = 255;
constexpr int32_t kWeightCodeMax = 127;

// For rows [row_begin, row_end) of x (k columns, row stride ldx): codes q in [0, max_code] with
// x ~ scale * (q - zero). The range always contains 0, so zero is exact; an all-zero row gets
// scale 1. Rounding is to nearest, ties to even.
void quantize_activation_rows(const float* x, int64_t ldx, int64_t k, int64_t row_begin,
                              int64_t row_end, int32_t max_code, uint8_t* q, int64_t ldq,
                              float* scale, int32_t* zero);

// For rows [row_begin, row_end) of w (k columns, stride k): codes in [-max_code, max_code] with
// w ~ scale * q, and the sum of each row's codes.
void quantize_weight_rows(const float* w, int64_t k, int64_t row_begin, int64_t row_end,
                          int32_t max_code, int8_t* q, float* scale, int32_t* code_sum);

}  // namespace clipembed::kernels
