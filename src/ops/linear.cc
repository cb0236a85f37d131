#include "ops/linear.h"

#include "kernels/gemm.h"

namespace clipembed::ops {

void linear(Runtime& runtime, const float* x, int64_t m, const LinearWeights& w, float* y,
            Activation act, bool accumulate, std::span<const int64_t> item_starts) {
  // Column slices of at least 64 outputs keep each sgemm call large enough to run at full speed.
  constexpr int64_t kMinColumns = 64;
  const int64_t whole[2] = {0, m};
  const std::span<const int64_t> items = item_starts.empty() ? whole : item_starts;
  runtime.parallel_for(
      0, w.out,
      [&](int64_t begin, int64_t end) {
        // One product per item: an item's rows then take the same path through the GEMM whatever
        // else is in the batch, so batched results are bit-identical to one-at-a-time ones
        // (the GEMM's rounding depends on M), at the cost of repacking the weight slice per call.
        for (size_t i = 0; i + 1 < items.size(); ++i) {
          const int64_t row = items[i], rows = items[i + 1] - items[i];
          kernels::gemm(rows, end - begin, w.in, 1.0f, x + row * w.in, w.in,
                        w.weight + begin * w.in, w.in, /*b_transposed=*/true,
                        accumulate ? 1.0f : 0.0f, y + row * w.out + begin, w.out);
        }
        if (w.bias != nullptr || act != Activation::kNone) {
          kernels::bias_activation(y, w.out, 0, m, begin, end, w.bias, act);
        }
      },
      kMinColumns);
}

}  // namespace clipembed::ops
