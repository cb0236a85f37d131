// Internal: the text tower of both families. CLIP's (CLIPTextModelWithProjection): token and
// position embeddings, the encoder with a causal mask, the final layer norm at the end token, and
// the text projection. SigLIP's (SiglipTextModel): the same embeddings, the encoder without a
// mask (texts come padded, and the padding takes part), the final layer norm at the last
// position, and a Linear head.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "clipembed/config.h"
#include "clipembed/model.h"
#include "clipembed/runtime.h"
#include "model/activations.h"
#include "model/encoder.h"
#include "model/weight_file.h"
#include "ops/dense.h"

namespace clipembed::model {

// Immutable after load: any number of threads may run forward() at once, each with its own
// activations.
class TextTransformer {
 public:
  // Binds and checks every tensor against `config`. Throws Error(kModelInvalid) naming the file
  // and the tensor.
  TextTransformer(Runtime& runtime, WeightFile& weights, const TextConfig& config,
                  Precision precision);

  int output_dimension() const {
    return config_.projection_dim > 0 ? config_.projection_dim : config_.hidden_size;
  }

  // The position whose hidden state is pooled (CLIP: see TextConfig::eos_token_id; SigLIP: the
  // last).
  int64_t pooled_position(std::span<const int32_t> ids) const;

  // Embeds texts given as token ids (each within the context and the vocabulary). CLIP: only the
  // rows up to each text's pooled position are computed (with the causal mask nothing after it
  // can change it). A text's vector is the same in any batch (bit for bit: items run their
  // float32 products on their own). out: texts x output_dimension().
  void forward(Runtime& runtime, std::span<const std::vector<int32_t>> ids, float* out,
               TextActivations& buffers) const;

  static EncoderShape encoder_shape(const TextConfig& config);
  // Bytes of activations forward() allocates for `texts` texts of the full context.
  static int64_t activation_bytes(const TextConfig& config, int64_t texts, Precision precision);
  size_t owned_bytes() const { return encoder_.owned_bytes(); }

 private:
  const TextConfig config_;
  const float* token_embedding_ = nullptr;     // [vocab x D]
  const float* position_embedding_ = nullptr;  // [context x D]
  Encoder encoder_;
  LayerNormWeights final_ln_;
  ops::Dense projection_;  // [projection_dim x D], no bias; empty when absent.
  ops::Dense head_;        // SigLIP's [D x D] with bias; empty for CLIP.
};

}  // namespace clipembed::model
