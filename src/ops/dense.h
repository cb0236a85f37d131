// Internal op: one Linear layer whose weights are held in the precision the model was loaded with
// (float32 or int8 codes), behind one call. The encoder is written once against it, as
// CTranslate2's Dense layer is over its precisions.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "clipembed/runtime.h"
#include "ops/linear.h"
#include "ops/linear_int8.h"

namespace clipembed::ops {

// How one application of a layer ends and splits its rows.
struct DenseCall {
  Activation act = Activation::kNone;
  bool accumulate = false;  // y += x W^T + b (a residual add); act must then be kNone.
  // The first row of each item, then the row count: products per item, so an item's result does
  // not depend on its batch (float32; int8 products are exact and invariant anyway). Empty: one
  // product over all rows.
  std::span<const int64_t> item_starts;
};

// Per-call buffers of the int8 path, reused from layer to layer of one forward pass.
struct DenseScratch {
  QuantizedRows codes;
  std::vector<int32_t> product;
};

// Immutable after construction; any number of threads may apply() it at once.
class Dense {
 public:
  Dense() = default;

  // Float32 weights. One part is used where it lies (the memory map); several parts sharing their
  // input (e.g. query, key and value) are stacked by output into one owned product.
  static Dense float32(std::span<const LinearWeights> parts);
  // Weights quantized per output channel to int8 codes (parts stacked the same way).
  static Dense int8(Runtime& runtime, std::span<const LinearWeights> parts);

  int64_t in() const { return in_; }
  int64_t out() const { return out_; }
  bool quantized() const { return quantized_; }
  // Bytes this layer owns (stacked float32 copies or codes, scales, sums and biases).
  size_t owned_bytes() const;

  // y[m x out()] = act(x[m x in()] W^T + b), or y += ... with call.accumulate.
  void apply(Runtime& runtime, const float* x, int64_t m, float* y, const DenseCall& call,
             DenseScratch& scratch) const;

 private:
  int64_t in_ = 0, out_ = 0;
  bool quantized_ = false;
  LinearWeights float_;                        // Float32: where the weights are.
  std::vector<float> stacked_, stacked_bias_;  // Float32 with several parts: their copy.
  QuantizedLinear codes_;                      // Int8.
};

}  // namespace clipembed::ops
