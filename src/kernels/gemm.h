// Internal kernel: single-threaded float32 matrix products. Callers split work across the runtime;
// this layer never starts threads.
#pragma once

#include <cstdint>

namespace clipembed::kernels {

// C[m x n] = alpha * A[m x k] * op(B) + beta * C, all row-major with leading dimensions.
// op(B) is B[k x n] when !b_transposed, else B is stored [n x k] (the layout of a Linear weight).
void gemm(int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda, const float* b,
          int64_t ldb, bool b_transposed, float beta, float* c, int64_t ldc);

// Plain loops computing the same product; the reference the tests compare gemm() against.
void gemm_reference(int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
                    const float* b, int64_t ldb, bool b_transposed, float beta, float* c,
                    int64_t ldc);

}  // namespace clipembed::kernels
