// Integer products through oneDNN's gemm_u8s8s32: it picks the CPU's best instructions itself
// (vpmaddubsw on AVX2, vpdpbusd with VNNI); its speed against sgemm is in docs/perf.md.
#include "kernels/gemm_int8.h"

#include <omp.h>
#include <oneapi/dnnl/dnnl.h>

#include <string>

#include "clipembed/error.h"

namespace clipembed::kernels {

void gemm_u8s8(int64_t m, int64_t n, int64_t k, const uint8_t* a, int64_t lda, const int8_t* b,
               int64_t ldb, int32_t* c, int64_t ldc) {
  if (m == 0 || n == 0) return;
  // As in gemm(): our runtime owns the parallelism, so oneDNN runs with a team of one.
  if (omp_get_max_threads() != 1) omp_set_num_threads(1);
  const int32_t no_offset = 0;
  dnnl_status_t status = dnnl_gemm_u8s8s32('N', 'T', 'F', m, n, k, 1.0f, a, lda, 0, b, ldb, 0, 0.0f,
                                           c, ldc, &no_offset);
  if (status != dnnl_success) {
    throw Error(ErrorCode::kInternal,
                "oneDNN gemm_u8s8s32 failed with status " + std::to_string(status));
  }
}

void gemm_u8s8_reference(int64_t m, int64_t n, int64_t k, const uint8_t* a, int64_t lda,
                         const int8_t* b, int64_t ldb, int32_t* c, int64_t ldc) {
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      int64_t sum = 0;
      for (int64_t p = 0; p < k; ++p) sum += int64_t{a[i * lda + p]} * b[j * ldb + p];
      c[i * ldc + j] = static_cast<int32_t>(sum);
    }
  }
}

}  // namespace clipembed::kernels
