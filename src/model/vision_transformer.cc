#include "model/vision_transformer.h"

#include <array>
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

bool is_siglip(const VisionConfig& c) { return c.family == ModelFamily::kSiglip; }

// The patch embedding: in int8 under int8, where in float32 it was a tenth of a ViT-B/32 pass
// (3,072 inputs a patch); float32 otherwise (in bf16 it saved 2.5% and moved a zero-shot label of
// the shapes model, whose pixels bf16 rounds to 8 bits).
ops::Dense bind_patch(Runtime& runtime, WeightFile& weights, const VisionConfig& c,
                      Precision precision) {
  if (precision != Precision::kInt8) precision = Precision::kF32;
  const int64_t p = c.patch_size;
  const ops::LinearWeights w{
      weights.bind(kEmbeddings + "patch_embedding.weight", {c.hidden_size, c.num_channels, p, p}),
      is_siglip(c) ? weights.bind(kEmbeddings + "patch_embedding.bias", {c.hidden_size}) : nullptr,
      c.num_channels * p * p, c.hidden_size};
  return pack_dense(runtime, weights, {&w, 1}, precision);
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
      class_embedding_(
          is_siglip(c) ? nullptr : weights.bind(kEmbeddings + "class_embedding", {c.hidden_size})),
      position_embedding_(weights.bind(kEmbeddings + "position_embedding.weight",
                                       {c.num_positions(), c.hidden_size})),
      patch_(bind_patch(runtime, weights, c, precision)),
      // "pre_layrnorm" is the name transformers uses (sic).
      pre_ln_{
          is_siglip(c) ? nullptr
                       : weights.bind("vision_model.pre_layrnorm.weight", {c.hidden_size}),
          is_siglip(c) ? nullptr : weights.bind("vision_model.pre_layrnorm.bias", {c.hidden_size})},
      post_ln_{weights.bind("vision_model.post_layernorm.weight", {c.hidden_size}),
               weights.bind("vision_model.post_layernorm.bias", {c.hidden_size})},
      encoder_(runtime, weights, "vision_model.encoder.", encoder_shape(c), precision),
      projection_(bind_projection(runtime, weights, config_)),
      head_(is_siglip(c) ? bind_head(runtime, weights, precision) : PoolingHead{}) {}

VisionTransformer::PoolingHead VisionTransformer::bind_head(Runtime& runtime, WeightFile& weights,
                                                            Precision precision) const {
  const std::string h = "vision_model.head.";
  const int64_t d = config_.hidden_size, f = config_.intermediate_size;
  PoolingHead head;
  head.probe = weights.bind(h + "probe", {1, 1, d});
  const float* in_w = weights.bind(h + "attention.in_proj_weight", {3 * d, d});
  const float* in_b = weights.bind(h + "attention.in_proj_bias", {3 * d});
  // The stacked rows are released as one block after packing (the parts lie back to back).
  const std::array<ops::LinearWeights, 3> qkv{
      ops::LinearWeights{in_w, in_b, d, d}, ops::LinearWeights{in_w + d * d, in_b + d, d, d},
      ops::LinearWeights{in_w + 2 * d * d, in_b + 2 * d, d, d}};
  head.qkv = pack_dense(runtime, weights, qkv, precision);
  auto linear = [&](const std::string& name, int64_t out, int64_t in) {
    return ops::LinearWeights{weights.bind(h + name + ".weight", {out, in}),
                              weights.bind(h + name + ".bias", {out}), in, out};
  };
  const ops::LinearWeights out = linear("attention.out_proj", d, d);
  head.out = pack_dense(runtime, weights, {&out, 1}, precision);
  head.ln = {weights.bind(h + "layernorm.weight", {d}), weights.bind(h + "layernorm.bias", {d})};
  const ops::LinearWeights fc1 = linear("mlp.fc1", f, d);
  head.fc1 = pack_dense(runtime, weights, {&fc1, 1}, precision);
  const ops::LinearWeights fc2 = linear("mlp.fc2", d, f);
  head.fc2 = pack_dense(runtime, weights, {&fc2, 1}, precision);
  return head;
}

size_t VisionTransformer::owned_bytes() const {
  return encoder_.owned_bytes() + head_.qkv.owned_bytes() + head_.out.owned_bytes() +
         head_.fc1.owned_bytes() + head_.fc2.owned_bytes();
}

int64_t VisionTransformer::activation_bytes(const VisionConfig& c, int64_t count,
                                            Precision precision) {
  const int64_t tokens = count * c.num_positions();
  const int64_t d = c.hidden_size;
  const int64_t patch_in = int64_t{c.num_channels} * c.patch_size * c.patch_size;
  const int64_t grid2 = int64_t{c.grid()} * c.grid();
  const int64_t out = c.projection_dim > 0 ? c.projection_dim : d;
  // x; unfolded patches and their embedding; pooled rows and outputs; the pixels. Per-thread
  // attention scores are small and not counted. SigLIP's head reuses the encoder's buffers for
  // its keys and values (they are free once the encoder is done) and adds a few rows per image.
  const int64_t head = is_siglip(c) ? count * (3 * d + ops::activation_stride(d) +
                                               ops::activation_stride(c.intermediate_size))
                                    : 0;
  const int64_t floats = tokens * d + count * grid2 * (ops::activation_stride(patch_in) + d) +
                         count * (d + out) + count * 3 * c.image_size * c.image_size + head;
  // The patch embedding's codes under int8.
  const int64_t patch_codes =
      precision == Precision::kInt8 ? ops::activation_code_stride(patch_in) : 0;
  return floats * int64_t{sizeof(float)} + count * grid2 * patch_codes +
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
  const int64_t first_patch = class_embedding_ != nullptr ? 1 : 0;  // Row 0: CLIP's class token.
  for (int64_t b = 0; b < count; ++b) {
    for (int64_t t = 0; t < n; ++t) {
      float* row = x + (b * n + t) * d;
      const float* pos = position_embedding_ + t * d;
      const float* src =
          t < first_patch ? class_embedding_ : embedded + (b * grid * grid + t - first_patch) * d;
      for (int64_t i = 0; i < d; ++i) row[i] = src[i] + pos[i];
    }
  }
  if (is_siglip(c)) {
    // Every token is attended to by the head's probe, so every row runs through every layer.
    const std::span<const int64_t> items = even_items(buffers.token_items, count, n);
    encoder_.run(runtime, x, items, ops::AttentionMask::kNone, {}, buffers.encoder);
    pool_with_head(runtime, x, count, out, buffers);
    return;
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

void VisionTransformer::pool_with_head(Runtime& runtime, const float* x, int64_t count, float* out,
                                       VisionActivations& buffers) const {
  const VisionConfig& c = config_;
  const int64_t d = c.hidden_size, n = c.num_positions(), tokens = count * n;
  const int64_t hd = ops::activation_stride(d), fd = ops::activation_stride(c.intermediate_size);
  EncoderActivations& e = buffers.encoder;  // Free now that the encoder is done.
  ops::DenseScratch& scratch = e.dense;
  const ops::InputNorm post_ln{post_ln_.gamma, post_ln_.beta, c.layer_norm_eps};
  // Keys and values of every post-LayerNorm token (their queries are not needed where the
  // product can leave them out).
  float* h = sized(e.h, tokens * hd);
  float* qkv = sized(e.qkv, tokens * 3 * d);
  const bool split = ops::Dense::splits_at(d);
  head_.qkv.apply_normalized(runtime, x, d, post_ln, h, hd, tokens, qkv, 3 * d,
                             {.first_out = split ? d : 0}, scratch);
  // The probe's query, the same for every image, goes into the query columns of each image's
  // first row: the one row whose attention is computed.
  float* probe_qkv = sized(e.pooled_queries, 3 * d);
  head_.qkv.apply(runtime, head_.probe, d, 1, probe_qkv, 3 * d, {.end_out = split ? d : 0},
                  scratch);
  std::vector<int64_t>& query_rows = buffers.row_items;
  query_rows.resize(static_cast<size_t>(count));
  for (int64_t b = 0; b < count; ++b) {
    query_rows[static_cast<size_t>(b)] = b * n;
    std::copy_n(probe_qkv, d, qkv + b * n * 3 * d);
  }
  const std::span<const int64_t> items = even_items(buffers.token_items, count, n);
  float* attn = sized(e.attn, count * hd);
  ops::attention(runtime, qkv, qkv + d, qkv + 2 * d, 3 * d,
                 {items, c.num_attention_heads, d / c.num_attention_heads,
                  ops::AttentionMask::kNone, query_rows},
                 attn, hd);
  // a = out_proj(attention); then a + mlp(layer_norm(a)), written straight into `out`.
  head_.out.apply(runtime, attn, hd, count, out, d, {}, scratch);
  float* mlp = sized(e.mlp, count * fd);
  head_.fc1.apply_normalized(runtime, out, d, {head_.ln.gamma, head_.ln.beta, c.layer_norm_eps}, h,
                             hd, count, mlp, fd, {.act = activation_of(c.hidden_act)}, scratch);
  head_.fc2.apply(runtime, mlp, fd, count, out, d, {.accumulate = true}, scratch);
}

}  // namespace clipembed::model
