#include "ops/layer_norm.h"

#include "kernels/layer_norm.h"

namespace clipembed::ops {

void layer_norm(Runtime& runtime, const float* in, int64_t in_ld, float* out, int64_t out_ld,
                int64_t rows, int64_t dim, const float* gamma, const float* beta, float eps) {
  // Rows per chunk: small enough to spread, large enough to amortise dispatch.
  constexpr int64_t kRowGrain = 8;
  runtime.parallel_for(
      0, rows,
      [&](int64_t begin, int64_t end) {
        kernels::layer_norm(in, in_ld, out, out_ld, dim, begin, end, gamma, beta, eps);
      },
      kRowGrain);
}

}  // namespace clipembed::ops
