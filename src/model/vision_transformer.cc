#include "model/vision_transformer.h"

#include <cstring>
#include <vector>

#include "ops/layer_norm.h"

namespace clipembed::model {
namespace {

const std::string kEmbeddings = "vision_model.embeddings.";

// The visual projection, or an empty layer when the config has none (see the constructor).
ops::Dense bind_projection(Runtime& runtime, WeightFile& weights, const VisionConfig& c) {
  if (c.projection_dim == 0) return {};
  const ops::LinearWeights w{
      weights.bind("visual_projection.weight", {c.projection_dim, c.hidden_size}), nullptr,
      c.hidden_size, c.projection_dim};
  ops::Dense dense = ops::Dense::float32(runtime, {&w, 1});
  weights.release(w.weight, static_cast<size_t>(w.in * w.out));
  return dense;
}

ops::Dense bind_patch(Runtime& runtime, WeightFile& weights, const VisionConfig& c) {
  const int64_t p = c.patch_size;
  const ops::LinearWeights w{
      weights.bind(kEmbeddings + "patch_embedding.weight", {c.hidden_size, c.num_channels, p, p}),
      nullptr, c.num_channels * p * p, c.hidden_size};
  ops::Dense dense = ops::Dense::float32(runtime, {&w, 1});
  weights.release(w.weight, static_cast<size_t>(w.in * w.out));
  return dense;
}

// Rows [i * per_item, (i + 1) * per_item) for each of `count` items, in `starts`.
std::span<const int64_t> even_items(std::vector<int64_t>& starts, int64_t count, int64_t per_item) {
  int64_t* s = sized(starts, count + 1);
  for (int64_t i = 0; i <= count; ++i) s[i] = i * per_item;
  return {s, static_cast<size_t>(count + 1)};
}

}  // namespace

EncoderShape VisionTransformer::encoder_shape(const VisionConfig& c) {
  return {c.hidden_size,       c.intermediate_size, c.num_attention_heads,
          c.num_hidden_layers, c.hidden_act,        c.layer_norm_eps};
}

VisionTransformer::VisionTransformer(Runtime& runtime, WeightFile& weights, VisionConfig& c,
                                     Precision precision)
    : config_([&] {
        // A CLIPVisionModel checkpoint may have no projection (ModelConfig::read says so too).
        if (!weights.has("visual_projection.weight") && c.vision_only) c.projection_dim = 0;
        return c;
      }()),
      class_embedding_(weights.bind(kEmbeddings + "class_embedding", {c.hidden_size})),
      position_embedding_(weights.bind(kEmbeddings + "position_embedding.weight",
                                       {c.num_positions(), c.hidden_size})),
      patch_(bind_patch(runtime, weights, c)),
      // "pre_layrnorm" is the name transformers uses (sic).
      pre_ln_{weights.bind("vision_model.pre_layrnorm.weight", {c.hidden_size}),
              weights.bind("vision_model.pre_layrnorm.bias", {c.hidden_size})},
      post_ln_{weights.bind("vision_model.post_layernorm.weight", {c.hidden_size}),
               weights.bind("vision_model.post_layernorm.bias", {c.hidden_size})},
      encoder_(runtime, weights, "vision_model.encoder.", encoder_shape(c), precision),
      projection_(bind_projection(runtime, weights, config_)) {}

int64_t VisionTransformer::activation_bytes(const VisionConfig& c, int64_t count,
                                            Precision precision) {
  const int64_t tokens = count * c.num_positions();
  const int64_t d = c.hidden_size;
  const int64_t patch_in = int64_t{c.num_channels} * c.patch_size * c.patch_size;
  const int64_t grid2 = int64_t{c.grid()} * c.grid();
  const int64_t out = c.projection_dim > 0 ? c.projection_dim : d;
  // x; unfolded patches and their embedding; pooled rows and outputs; the pixels. Per-thread
  // attention scores are small and not counted.
  const int64_t floats = tokens * d + count * grid2 * (ops::activation_stride(patch_in) + d) +
                         count * (d + out) + count * 3 * c.image_size * c.image_size;
  return floats * int64_t{sizeof(float)} +
         Encoder::activation_bytes(encoder_shape(c), tokens, precision);
}

void VisionTransformer::forward(Runtime& runtime, const float* pixels, int64_t count, float* out,
                                VisionActivations& buffers) const {
  const VisionConfig& c = config_;
  const int64_t d = c.hidden_size, p = c.patch_size, s = c.image_size;
  const int64_t grid = c.grid(), n = c.num_positions(), tokens = count * n;
  const int64_t patch_in = int64_t{c.num_channels} * p * p;
  ops::DenseScratch& scratch = buffers.encoder.dense;

  // Patch embedding: a stride-P convolution is a product of the unfolded patches with the kernel.
  // Their rows are laid out as the encoder's are (ViT-B/32's 3,072 floats are 12 KiB, which would
  // put a tile's rows in one L1 set: ops::activation_stride).
  const int64_t patch_ld = ops::activation_stride(patch_in);
  float* patches = sized(buffers.patches, count * grid * grid * patch_ld);
  runtime.parallel_for(0, count * grid, [&](int64_t begin, int64_t end) {
    for (int64_t bg = begin; bg < end; ++bg) {
      const int64_t b = bg / grid, gy = bg % grid;
      for (int64_t gx = 0; gx < grid; ++gx) {
        float* dst = patches + ((b * grid + gy) * grid + gx) * patch_ld;
        for (int64_t ch = 0; ch < c.num_channels; ++ch) {
          for (int64_t ky = 0; ky < p; ++ky) {
            const float* src = pixels + ((b * c.num_channels + ch) * s + gy * p + ky) * s + gx * p;
            std::memcpy(dst + (ch * p + ky) * p, src, static_cast<size_t>(p) * sizeof(float));
          }
        }
      }
    }
  });
  float* embedded = sized(buffers.embedded, count * grid * grid * d);
  patch_.apply(runtime, patches, patch_ld, count * grid * grid, embedded, d, {}, scratch);

  float* x = sized(buffers.x, tokens * d);
  for (int64_t b = 0; b < count; ++b) {
    for (int64_t t = 0; t < n; ++t) {
      float* row = x + (b * n + t) * d;
      const float* pos = position_embedding_ + t * d;
      const float* src = t == 0 ? class_embedding_ : embedded + (b * grid * grid + t - 1) * d;
      for (int64_t i = 0; i < d; ++i) row[i] = src[i] + pos[i];
    }
  }
  ops::layer_norm(runtime, x, x, tokens, d, pre_ln_.gamma, pre_ln_.beta, c.layer_norm_eps);
  // Each image's class token is its first row, and the only one pooled.
  const std::span<const int64_t> items = even_items(buffers.token_items, count, n);
  encoder_.run(runtime, x, items, ops::AttentionMask::kNone, items.first(items.size() - 1),
               buffers.encoder);

  // Pool the class token of each image, normalise it, and project it.
  float* pooled = sized(buffers.pooled, count * d);
  for (int64_t b = 0; b < count; ++b) {
    std::memcpy(pooled + b * d, x + b * n * d, static_cast<size_t>(d) * sizeof(float));
  }
  ops::layer_norm(runtime, pooled, pooled, count, d, post_ln_.gamma, post_ln_.beta,
                  c.layer_norm_eps);
  if (projection_.out() == 0) {
    std::memcpy(out, pooled, static_cast<size_t>(count * d) * sizeof(float));
    return;
  }
  projection_.apply(runtime, pooled, count, out, {}, scratch);
}

}  // namespace clipembed::model
