// The scalar references (scalar_reference.h) compiled portably, for CPUs without FMA.
#include "kernels/scalar_reference.h"

namespace clipembed::kernels {

void gemm_f32_scalar_portable(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda,
                              const float* packed, int64_t panel_begin, int64_t panel_end, float* c,
                              int64_t ldc, const Epilogue& epilogue) {
  reference::gemm_f32(m, n, k, a, lda, packed, panel_begin, panel_end, c, ldc, epilogue);
}

void gemm_bf16_scalar_portable(int64_t m, int64_t n, int64_t k, const uint16_t* a, int64_t lda,
                               const uint16_t* packed, int64_t panel_begin, int64_t panel_end,
                               float* c, int64_t ldc, const Epilogue& epilogue) {
  reference::gemm_bf16(m, n, k, a, lda, packed, panel_begin, panel_end, c, ldc, epilogue);
}

void attention_head_scalar_portable(int64_t n, QueryRows queries, int64_t head_dim, const float* q,
                                    const float* k, const float* v, int64_t ld, bool causal,
                                    float* out, int64_t out_ld, float* scratch) {
  reference::attention_head(n, queries, head_dim, q, k, v, ld, causal, out, out_ld, scratch);
}

void dot_rows_scalar_portable(const float* queries, int64_t query_count, const float* rows,
                              int64_t row_count, int64_t dim, float* scores, int64_t ld) {
  reference::dot_rows(queries, query_count, rows, row_count, dim, scores, ld);
}

}  // namespace clipembed::kernels
