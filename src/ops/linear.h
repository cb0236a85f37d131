// Internal op: a float32 Linear layer (y = x W^T + b, W stored [out x in] as in PyTorch) split
// across the runtime by output columns, so each thread streams its own slice of the weights.
// Reached through ops::Dense, which holds a layer's weights in either precision.
#pragma once

#include <cstdint>
#include <span>

#include "clipembed/runtime.h"
#include "kernels/activation.h"

namespace clipembed::ops {

using Activation = kernels::Activation;

struct LinearWeights {
  const float* weight = nullptr;  // [out x in], row-major.
  const float* bias = nullptr;    // [out], or nullptr.
  int64_t in = 0;
  int64_t out = 0;
};

// y[m x out] = act(x[m x in] W^T + b). With `accumulate`, the product and bias are added to what
// y holds (a residual connection); `act` must then be kNone. With `item_starts` (the first row of
// each item, then m) the rows of each item are multiplied in a product of their own, which makes
// an item's result independent of the batch it is in; empty: one product of all m rows.
void linear(Runtime& runtime, const float* x, int64_t m, const LinearWeights& w, float* y,
            Activation act = Activation::kNone, bool accumulate = false,
            std::span<const int64_t> item_starts = {});

}  // namespace clipembed::ops
