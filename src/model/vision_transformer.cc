#include "model/vision_transformer.h"

#include <cstring>
#include <vector>

#include "kernels/activation.h"
#include "kernels/layer_norm.h"
#include "ops/attention.h"
#include "ops/layer_norm.h"
#include "ops/linear.h"

namespace clipembed::model {

int64_t VisionTransformer::activation_bytes(const VisionConfig& c, int64_t count) {
  const int64_t tokens = count * c.num_positions();
  const int64_t d = c.hidden_size, f = c.intermediate_size;
  const int64_t patch_in = int64_t{c.num_channels} * c.patch_size * c.patch_size;
  const int64_t grid2 = int64_t{c.grid()} * c.grid();
  const int64_t out = c.projection_dim > 0 ? c.projection_dim : d;
  // x, h, q, k, v, attn and the MLP buffer; unfolded patches and their embedding; pooled rows and
  // outputs; the pixels. Per-thread attention scores are small and not counted.
  const int64_t floats = tokens * (6 * d + f) + count * grid2 * (patch_in + d) +
                         count * (2 * d + out) + count * 3 * c.image_size * c.image_size;
  return floats * static_cast<int64_t>(sizeof(float)) +
         QuantizedEncoder::activation_bytes(c, count);
}

void VisionTransformer::forward(Runtime& runtime, const float* pixels, int64_t count, float* out,
                                bool invariant) const {
  const VisionConfig& c = config_;
  const int64_t d = c.hidden_size, p = c.patch_size, s = c.image_size;
  const int64_t grid = c.grid(), n = c.num_positions(), tokens = count * n;
  const int64_t patch_in = int64_t{c.num_channels} * p * p;

  // Patch embedding: a stride-P convolution is a product of the unfolded patches with the kernel.
  std::vector<float> patches(static_cast<size_t>(count * grid * grid * patch_in));
  runtime.parallel_for(0, count * grid, [&](int64_t begin, int64_t end) {
    for (int64_t bg = begin; bg < end; ++bg) {
      const int64_t b = bg / grid, gy = bg % grid;
      for (int64_t gx = 0; gx < grid; ++gx) {
        float* dst = &patches[static_cast<size_t>(((b * grid + gy) * grid + gx) * patch_in)];
        for (int64_t ch = 0; ch < c.num_channels; ++ch) {
          for (int64_t ky = 0; ky < p; ++ky) {
            const float* src = pixels + ((b * c.num_channels + ch) * s + gy * p + ky) * s + gx * p;
            std::memcpy(dst + (ch * p + ky) * p, src, static_cast<size_t>(p) * sizeof(float));
          }
        }
      }
    }
  });
  std::vector<float> embedded(static_cast<size_t>(count * grid * grid * d));
  ops::linear(runtime, patches.data(), count * grid * grid, weights_.patch, embedded.data(),
              kernels::Activation::kNone, false, invariant ? grid * grid : 0);
  patches = {};

  std::vector<float> x(static_cast<size_t>(tokens * d));
  for (int64_t b = 0; b < count; ++b) {
    for (int64_t t = 0; t < n; ++t) {
      float* row = &x[static_cast<size_t>((b * n + t) * d)];
      const float* pos = weights_.position_embedding + t * d;
      const float* src = t == 0 ? weights_.class_embedding
                                : &embedded[static_cast<size_t>((b * grid * grid + t - 1) * d)];
      for (int64_t i = 0; i < d; ++i) row[i] = src[i] + pos[i];
    }
  }
  embedded = {};
  ops::layer_norm(runtime, x.data(), x.data(), tokens, d, weights_.pre_ln.gamma,
                  weights_.pre_ln.beta, c.layer_norm_eps);

  if (quantized_ != nullptr) {
    quantized_->encode(runtime, x.data(), count);
  } else {
    encode_f32(runtime, x.data(), count, invariant);
  }

  // Pool the class token of each image, normalise it, and project it.
  std::vector<float> pooled(static_cast<size_t>(count * d));
  for (int64_t b = 0; b < count; ++b) {
    std::memcpy(&pooled[static_cast<size_t>(b * d)], &x[static_cast<size_t>(b * n * d)],
                static_cast<size_t>(d) * sizeof(float));
  }
  kernels::layer_norm(pooled.data(), pooled.data(), d, 0, count, weights_.post_ln.gamma,
                      weights_.post_ln.beta, c.layer_norm_eps);
  if (weights_.projection.weight == nullptr) {
    std::memcpy(out, pooled.data(), pooled.size() * sizeof(float));
    return;
  }
  ops::linear(runtime, pooled.data(), count, weights_.projection, out, kernels::Activation::kNone,
              false, invariant ? 1 : 0);
}

void VisionTransformer::encode_f32(Runtime& runtime, float* x_data, int64_t count,
                                   bool invariant) const {
  const VisionConfig& c = config_;
  const int64_t d = c.hidden_size, f = c.intermediate_size, n = c.num_positions();
  const int64_t tokens = count * n;
  // Batch-invariant mode multiplies each image's rows on their own (see ops::linear).
  const int64_t per_image = invariant ? n : 0;
  const kernels::Activation act = c.hidden_act == HiddenAct::kGelu
                                      ? kernels::Activation::kGelu
                                      : kernels::Activation::kQuickGelu;
  const size_t rows = static_cast<size_t>(tokens * d);
  std::vector<float> h(rows), q(rows), k(rows), v(rows), attn(rows);
  std::vector<float> mlp(static_cast<size_t>(tokens * f));
  const ops::AttentionShape shape{count, n, c.num_attention_heads, d / c.num_attention_heads};
  for (const EncoderLayerWeights& w : weights_.layers) {
    ops::layer_norm(runtime, x_data, h.data(), tokens, d, w.ln1.gamma, w.ln1.beta,
                    c.layer_norm_eps);
    ops::linear(runtime, h.data(), tokens, w.q, q.data(), kernels::Activation::kNone, false,
                per_image);
    ops::linear(runtime, h.data(), tokens, w.k, k.data(), kernels::Activation::kNone, false,
                per_image);
    ops::linear(runtime, h.data(), tokens, w.v, v.data(), kernels::Activation::kNone, false,
                per_image);
    ops::attention(runtime, q.data(), k.data(), v.data(), d, shape, attn.data(), d);
    ops::linear(runtime, attn.data(), tokens, w.out, x_data, kernels::Activation::kNone,
                /*accumulate=*/true, per_image);
    ops::layer_norm(runtime, x_data, h.data(), tokens, d, w.ln2.gamma, w.ln2.beta,
                    c.layer_norm_eps);
    ops::linear(runtime, h.data(), tokens, w.fc1, mlp.data(), act, false, per_image);
    ops::linear(runtime, mlp.data(), tokens, w.fc2, x_data, kernels::Activation::kNone,
                /*accumulate=*/true, per_image);
  }
}

}  // namespace clipembed::model
