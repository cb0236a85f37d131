// Internal kernel: single-threaded 8-bit matrix products for the int8 path. Callers split work
// across the runtime; this layer never starts threads.
#pragma once

#include <cstdint>

namespace clipembed::kernels {

// C[m x n] = A[m x k] * B^T, with A unsigned codes (row-major, stride lda) and B signed codes
// stored [n x k] (the layout of a Linear weight, stride ldb); C int32, stride ldc. Exact as long
// as codes stay within kActivationCodeMax and kWeightCodeMax (kernels/quantize.h).
void gemm_u8s8(int64_t m, int64_t n, int64_t k, const uint8_t* a, int64_t lda, const int8_t* b,
               int64_t ldb, int32_t* c, int64_t ldc);

// Plain loops computing the same product; the reference the tests compare gemm_u8s8() against.
void gemm_u8s8_reference(int64_t m, int64_t n, int64_t k, const uint8_t* a, int64_t lda,
                         const int8_t* b, int64_t ldb, int32_t* c, int64_t ldc);

}  // namespace clipembed::kernels
