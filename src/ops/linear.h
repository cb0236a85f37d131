// Internal op: a Linear layer (y = x W^T + b, W stored [out x in] as in PyTorch) split across the
// runtime by output columns, so each thread streams its own slice of the weights.
#pragma once

#include <cstdint>

#include "clipembed/runtime.h"
#include "kernels/activation.h"

namespace clipembed::ops {

struct LinearWeights {
  const float* weight = nullptr;  // [out x in], row-major.
  const float* bias = nullptr;    // [out], or nullptr.
  int64_t in = 0;
  int64_t out = 0;
};

// y[m x out] = act(x[m x in] W^T + b). With `accumulate`, the product and bias are added to what
// y holds (a residual connection); `act` must then be kNone. With rows_per_item > 0 the rows are
// multiplied in separate products of that many rows (one per image), which makes each image's
// result independent of the batch it is in.
void linear(Runtime& runtime, const float* x, int64_t m, const LinearWeights& w, float* y,
            kernels::Activation act = kernels::Activation::kNone, bool accumulate = false,
            int64_t rows_per_item = 0);

}  // namespace clipembed::ops
