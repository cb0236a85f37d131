// Internal: the encoder layers of a vision tower with their products on 8-bit codes
// (Precision::kInt8). Layer norms, attention, the patch embedding and the projection stay float32.
#pragma once

#include <cstdint>
#include <vector>

#include "clipembed/model.h"
#include "clipembed/runtime.h"
#include "model/vision_weights.h"
#include "ops/linear_int8.h"

namespace clipembed::model {

// Immutable after construction; any number of threads may run encode() at once.
class QuantizedEncoder {
 public:
  // Quantizes every layer's products (query, key and value stacked into one), using the runtime,
  // and releases each layer's float32 products once quantized, so peak memory stays near the
  // float32 model's.
  QuantizedEncoder(Runtime& runtime, const VisionConfig& config, VisionWeights& weights);

  // Runs every encoder layer on x[count * positions x hidden] in place.
  void encode(Runtime& runtime, float* x, int64_t count) const;

  // Bytes of the quantized weights (codes, scales, sums, biases).
  size_t weight_bytes() const;
  // Bytes of activations encode() allocates for `count` images, beyond the float32 path's.
  static int64_t activation_bytes(const VisionConfig& config, int64_t count);

 private:
  struct Layer {
    ops::QuantizedLinear qkv, out, fc1, fc2;
  };
  const VisionConfig& config_;
  const VisionWeights& weights_;
  std::vector<Layer> layers_;
};

}  // namespace clipembed::model
