// Internal: the vision tower of both families. CLIP's (CLIPVisionModelWithProjection): patch and
// position embeddings with a class token, pre-LayerNorm, the encoder, the pooled class token and
// the visual projection. SigLIP's (SiglipVisionModel): patch embedding with a bias, position
// embeddings, the encoder, post-LayerNorm on every token and the attention-pooling head.
#pragma once

#include <cstdint>
#include <memory>

#include "clipembed/model.h"
#include "clipembed/runtime.h"
#include "model/activations.h"
#include "model/encoder.h"
#include "model/weight_file.h"
#include "ops/dense.h"

namespace clipembed::model {

// Immutable after load: any number of threads may run forward() at once, each with its own
// activations.
class VisionTransformer {
 public:
  // Binds and checks every tensor against `config` (shape and dtype). If the checkpoint has no
  // visual projection and config.vision_only, config.projection_dim is set to 0. Throws
  // Error(kModelInvalid) naming the file and the tensor.
  VisionTransformer(Runtime& runtime, WeightFile& weights, VisionConfig& config,
                    Precision precision);

  int output_dimension() const {
    return config_.projection_dim > 0 ? config_.projection_dim : config_.hidden_size;
  }

  // pixels: count x 3 x S x S (S = image_size), channels first. out: count x output_dimension().
  // Each image's result is bit-identical whatever else is in the batch. `buffers` hold the
  // activations (reused from call to call).
  void forward(Runtime& runtime, const float* pixels, int64_t count, float* out,
               VisionActivations& buffers) const;

  // Bytes of activations forward() allocates for a batch of `count` images.
  static int64_t activation_bytes(const VisionConfig& config, int64_t count, Precision precision);
  static EncoderShape encoder_shape(const VisionConfig& config);
  size_t owned_bytes() const;

 private:
  // SigLIP's SiglipMultiheadAttentionPoolingHead: one learned probe attends (nn.MultiheadAttention,
  // stacked q/k/v) to the post-LayerNorm tokens; no residual around the attention, then
  // a + mlp(layer_norm(a)).
  struct PoolingHead {
    const float* probe = nullptr;  // [D]: the one query.
    ops::Dense qkv;                // in_proj: [3D x D] with bias, rows q, k, v.
    ops::Dense out;                // out_proj.
    LayerNormWeights ln;
    ops::Dense fc1, fc2;
  };
  PoolingHead bind_head(Runtime& runtime, WeightFile& weights, Precision precision) const;
  // SigLIP: x holds the encoder's output rows; writes each image's embedding to `out`.
  void pool_with_head(Runtime& runtime, const float* x, int64_t count, float* out,
                      VisionActivations& buffers) const;

  const VisionConfig config_;
  const float* class_embedding_ = nullptr;     // [D]; CLIP only.
  const float* position_embedding_ = nullptr;  // [positions x D]
  ops::Dense patch_;                           // [D x 3*P*P], with a bias for SigLIP.
  LayerNormWeights pre_ln_, post_ln_;          // pre_ln_: CLIP only.
  Encoder encoder_;
  ops::Dense projection_;  // [projection_dim x D], no bias; empty when absent (always for SigLIP).
  PoolingHead head_;       // SigLIP only.
};

}  // namespace clipembed::model
