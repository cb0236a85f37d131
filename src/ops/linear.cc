#include "ops/linear.h"

#include "kernels/gemm.h"

namespace clipembed::ops {

void linear(Runtime& runtime, const float* x, int64_t m, const LinearWeights& w, float* y,
            kernels::Activation act, bool accumulate) {
  // Column slices of at least 64 outputs keep each sgemm call large enough to run at full speed.
  constexpr int64_t kMinColumns = 64;
  runtime.parallel_for(
      0, w.out,
      [&](int64_t begin, int64_t end) {
        kernels::gemm(m, end - begin, w.in, 1.0f, x, w.in, w.weight + begin * w.in, w.in,
                      /*b_transposed=*/true, accumulate ? 1.0f : 0.0f, y + begin, w.out);
        if (w.bias != nullptr || act != kernels::Activation::kNone) {
          kernels::bias_activation(y, w.out, 0, m, begin, end, w.bias, act);
        }
      },
      kMinColumns);
}

}  // namespace clipembed::ops
