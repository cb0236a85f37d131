#include "ops/attention.h"

#include <cmath>
#include <vector>

#include "kernels/gemm.h"
#include "kernels/softmax.h"

namespace clipembed::ops {

void attention(Runtime& runtime, const float* q, const float* k, const float* v, int64_t ld,
               const AttentionShape& s, float* out, int64_t out_ld) {
  const float scale = 1.0f / std::sqrt(static_cast<float>(s.head_dim));
  const int64_t n = s.tokens;
  runtime.parallel_for(0, s.batch * s.heads, [&](int64_t begin, int64_t end) {
    std::vector<float> scores(static_cast<size_t>(n * n));
    for (int64_t pair = begin; pair < end; ++pair) {
      const int64_t b = pair / s.heads, h = pair % s.heads;
      const int64_t row0 = b * n, col0 = h * s.head_dim;
      // scores = (q * scale) k^T, softmax over keys, then out = scores v.
      kernels::gemm(n, n, s.head_dim, scale, q + row0 * ld + col0, ld, k + row0 * ld + col0, ld,
                    /*b_transposed=*/true, 0.0f, scores.data(), n);
      kernels::softmax_rows(scores.data(), n, n, 0, n);
      kernels::gemm(n, s.head_dim, n, 1.0f, scores.data(), n, v + row0 * ld + col0, ld,
                    /*b_transposed=*/false, 0.0f, out + row0 * out_ld + col0, out_ld);
    }
  });
}

}  // namespace clipembed::ops
