#include "kernels/attention.h"

#include "kernels/scalar_reference.h"

namespace clipembed::kernels {

void attention_head(Isa isa, int64_t n, QueryRows queries, int64_t head_dim, const float* q,
                    const float* k, const float* v, int64_t ld, bool causal, float* out,
                    int64_t out_ld, float* scratch) {
  switch (isa) {
    case Isa::kAvx512:
      return attention_head_avx512(n, queries, head_dim, q, k, v, ld, causal, out, out_ld, scratch);
    case Isa::kAvx2:
      return attention_head_avx2(n, queries, head_dim, q, k, v, ld, causal, out, out_ld, scratch);
    case Isa::kScalar:
      break;
  }
  attention_head_scalar(n, queries, head_dim, q, k, v, ld, causal, out, out_ld, scratch);
}

void attention_head_scalar(int64_t n, QueryRows queries, int64_t head_dim, const float* q,
                           const float* k, const float* v, int64_t ld, bool causal, float* out,
                           int64_t out_ld, float* scratch) {
  if (isa_supported(Isa::kAvx2)) {
    return attention_head_scalar_fma(n, queries, head_dim, q, k, v, ld, causal, out, out_ld,
                                     scratch);
  }
  attention_head_scalar_portable(n, queries, head_dim, q, k, v, ld, causal, out, out_ld, scratch);
}

}  // namespace clipembed::kernels
