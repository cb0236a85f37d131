#include "ops/linear.h"

#include <algorithm>

#include "kernels/gemm.h"

namespace clipembed::ops {

void linear(Runtime& runtime, const float* x, int64_t m, const LinearWeights& w, float* y,
            kernels::Activation act, bool accumulate, int64_t rows_per_item) {
  // Column slices of at least 64 outputs keep each sgemm call large enough to run at full speed.
  constexpr int64_t kMinColumns = 64;
  const int64_t block = rows_per_item > 0 ? rows_per_item : m;
  runtime.parallel_for(
      0, w.out,
      [&](int64_t begin, int64_t end) {
        // One product per item: an item's rows then take the same path through the GEMM whatever
        // else is in the batch, so batched results are bit-identical to one-at-a-time ones
        // (the GEMM's rounding depends on M). It costs about 15% at ViT-B/32 batch 8, as the
        // library repacks the weight slice for every call.
        for (int64_t row = 0; row < m; row += block) {
          const int64_t rows = std::min(block, m - row);
          kernels::gemm(rows, end - begin, w.in, 1.0f, x + row * w.in, w.in,
                        w.weight + begin * w.in, w.in, /*b_transposed=*/true,
                        accumulate ? 1.0f : 0.0f, y + row * w.out + begin, w.out);
        }
        if (w.bias != nullptr || act != kernels::Activation::kNone) {
          kernels::bias_activation(y, w.out, 0, m, begin, end, w.bias, act);
        }
      },
      kMinColumns);
}

}  // namespace clipembed::ops
