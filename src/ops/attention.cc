#include "ops/attention.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/gemm.h"
#include "kernels/softmax.h"

namespace clipembed::ops {

void attention(Runtime& runtime, const float* q, const float* k, const float* v, int64_t ld,
               const AttentionShape& s, float* out, int64_t out_ld) {
  const float scale = 1.0f / std::sqrt(static_cast<float>(s.head_dim));
  const int64_t items = static_cast<int64_t>(s.item_starts.size()) - 1;
  runtime.parallel_for(0, items * s.heads, [&](int64_t begin, int64_t end) {
    std::vector<float> scores;
    for (int64_t pair = begin; pair < end; ++pair) {
      const int64_t item = pair / s.heads, h = pair % s.heads;
      const int64_t row0 = s.item_starts[item], col0 = h * s.head_dim;
      const int64_t n = s.item_starts[item + 1] - row0;
      scores.resize(static_cast<size_t>(n * n));
      // scores = (q * scale) k^T, softmax over keys, then out = scores v.
      kernels::gemm(n, n, s.head_dim, scale, q + row0 * ld + col0, ld, k + row0 * ld + col0, ld,
                    /*b_transposed=*/true, 0.0f, scores.data(), n);
      if (s.mask == AttentionMask::kCausal) {
        // Row r attends to keys [0, r]: the softmax runs over them alone and the later keys get
        // weight 0, which is what adding -inf to their scores before the softmax gives.
        for (int64_t r = 0; r < n; ++r) {
          float* row = scores.data() + r * n;
          kernels::softmax_rows(row, n, r + 1, 0, 1);
          std::fill(row + r + 1, row + n, 0.0f);
        }
      } else {
        kernels::softmax_rows(scores.data(), n, n, 0, n);
      }
      kernels::gemm(n, s.head_dim, n, 1.0f, scores.data(), n, v + row0 * ld + col0, ld,
                    /*b_transposed=*/false, 0.0f, out + row0 * out_ld + col0, out_ld);
    }
  });
}

}  // namespace clipembed::ops
