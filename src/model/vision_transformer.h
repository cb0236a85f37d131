// Internal: the CLIP vision transformer forward pass over a batch of preprocessed images.
#pragma once

#include <cstdint>

#include "clipembed/model.h"
#include "clipembed/runtime.h"
#include "model/quantized_encoder.h"
#include "model/vision_weights.h"

namespace clipembed::model {

// Stateless apart from references to immutable config and weights: any number of threads may run
// forward() at once, each with its own activations.
class VisionTransformer {
 public:
  // With `quantized`, the encoder layers run on it (int8); otherwise in float32.
  VisionTransformer(const VisionConfig& config, const VisionWeights& weights,
                    const QuantizedEncoder* quantized = nullptr)
      : config_(config), weights_(weights), quantized_(quantized) {}

  int output_dimension() const {
    return config_.projection_dim > 0 ? config_.projection_dim : config_.hidden_size;
  }

  // pixels: count x 3 x S x S (S = image_size), channels first. out: count x output_dimension().
  // With `invariant`, each image's result is bit-identical whatever else is in the batch.
  void forward(Runtime& runtime, const float* pixels, int64_t count, float* out,
               bool invariant) const;

  // Bytes of activations forward() allocates for a batch of `count` images: an upper bound for
  // both the float32 and the int8 path (the sum of both paths' buffers).
  static int64_t activation_bytes(const VisionConfig& config, int64_t count);

 private:
  void encode_f32(Runtime& runtime, float* x, int64_t count, bool invariant) const;

  const VisionConfig& config_;
  const VisionWeights& weights_;
  const QuantizedEncoder* quantized_;
};

}  // namespace clipembed::model
