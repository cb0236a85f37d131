// Internal op: a Linear layer on 8-bit codes (Precision::kInt8). Weights are quantized once, at
// load, per output channel; activations per row, just before each product. The integer product
// is exact, so a row's result never depends on the other rows of the batch.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "clipembed/runtime.h"
#include "kernels/activation.h"
#include "ops/linear.h"

namespace clipembed::ops {

// Immutable after construction; safe to read from any thread.
struct QuantizedLinear {
  std::vector<int8_t> weight;     // [out x in] codes.
  std::vector<float> scale;       // [out]
  std::vector<int32_t> code_sum;  // [out] sum of each output row's codes.
  std::vector<float> bias;        // [out], or empty.
  int64_t in = 0;
  int64_t out = 0;

  // Quantizes float layers that share their input, stacked by output (one product computes
  // them all; e.g. query, key and value). All parts must have the same `in`, and all or none a
  // bias.
  static QuantizedLinear quantize(Runtime& runtime, std::span<const LinearWeights> parts);
};

// Rows of activations as codes, with their scales and zero points. Per-call scratch.
struct QuantizedRows {
  std::vector<uint8_t> codes;  // [rows x cols]
  std::vector<float> scale;    // [rows]
  std::vector<int32_t> zero;   // [rows]
  int64_t rows = 0;
  int64_t cols = 0;
};

// Quantizes x[m x k] (row stride k) into `out`, reusing its storage.
void quantize_rows(Runtime& runtime, const float* x, int64_t m, int64_t k, QuantizedRows& out);

// y[m x w.out] = act(x W^T + b), or with `accumulate` y += x W^T + b (then act must be kNone).
// `product` is scratch of at least m * w.out int32. Split across the runtime by output columns.
void linear_int8(Runtime& runtime, const QuantizedRows& x, const QuantizedLinear& w,
                 int32_t* product, float* y, kernels::Activation act = kernels::Activation::kNone,
                 bool accumulate = false);

}  // namespace clipembed::ops
