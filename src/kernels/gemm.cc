// Matrix products through oneDNN's sgemm, chosen by measurement (docs/design.md): it dispatches to
// the best ISA of the running CPU itself (AVX2, AVX-512, ...) and reaches full speed without any
// environment variable, where Debian's OpenBLAS 0.3.21 misdetects some CPUs.
#include "kernels/gemm.h"

#include <omp.h>
#include <oneapi/dnnl/dnnl.h>

#include "clipembed/error.h"

namespace clipembed::kernels {

void gemm(int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda, const float* b,
          int64_t ldb, bool b_transposed, float beta, float* c, int64_t ldc) {
  if (m == 0 || n == 0) return;
  // Debian's oneDNN threads with OpenMP. Our runtime owns the parallelism, so each calling thread
  // runs oneDNN with a team of one: no OpenMP threads are ever started.
  if (omp_get_max_threads() != 1) omp_set_num_threads(1);
  dnnl_status_t status =
      dnnl_sgemm('N', b_transposed ? 'T' : 'N', m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  if (status != dnnl_success) {
    throw Error(ErrorCode::kInternal, "oneDNN sgemm failed with status " + std::to_string(status));
  }
}

void gemm_reference(int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
                    const float* b, int64_t ldb, bool b_transposed, float beta, float* c,
                    int64_t ldc) {
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      double sum = 0.0;
      for (int64_t p = 0; p < k; ++p) {
        const float bv = b_transposed ? b[j * ldb + p] : b[p * ldb + j];
        sum += static_cast<double>(a[i * lda + p]) * bv;
      }
      float& out = c[i * ldc + j];
      out = static_cast<float>(alpha * sum + (beta == 0.0f ? 0.0 : beta * out));
    }
  }
}

}  // namespace clipembed::kernels
