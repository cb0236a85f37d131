// Internal: ISA-specific variants of the quantizers in quantize.h. Call them only through the
// functions there, which pick one with active_isa(). Every variant computes bit-identical codes,
// scales and zero points to the scalar one.
#pragma once

#include <cstdint>

namespace clipembed::kernels {

void quantize_activation_rows_avx2(const float* x, int64_t ldx, int64_t k, int64_t row_begin,
                                   int64_t row_end, int32_t max_code, uint8_t* q, int64_t ldq,
                                   float* scale, int32_t* zero);
void quantize_weight_rows_avx2(const float* w, int64_t k, int64_t row_begin, int64_t row_end,
                               int32_t max_code, int8_t* q, float* scale, int32_t* code_sum);
void quantize_activation_rows_avx512(const float* x, int64_t ldx, int64_t k, int64_t row_begin,
                                     int64_t row_end, int32_t max_code, uint8_t* q, int64_t ldq,
                                     float* scale, int32_t* zero);

// The portable paths, also the references the SIMD paths are tested against.
void quantize_activation_rows_scalar(const float* x, int64_t ldx, int64_t k, int64_t row_begin,
                                     int64_t row_end, int32_t max_code, uint8_t* q, int64_t ldq,
                                     float* scale, int32_t* zero);
void quantize_weight_rows_scalar(const float* w, int64_t k, int64_t row_begin, int64_t row_end,
                                 int32_t max_code, int8_t* q, float* scale, int32_t* code_sum);

}  // namespace clipembed::kernels
