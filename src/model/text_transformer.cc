#include "model/text_transformer.h"

#include <algorithm>
#include <cstring>

#include "clipembed/error.h"
#include "ops/layer_norm.h"

namespace clipembed::model {
namespace {

const std::string kText = "text_model.";

ops::Dense bind_projection(Runtime& runtime, WeightFile& weights, const TextConfig& c) {
  if (c.projection_dim == 0) return {};
  const ops::LinearWeights w{
      weights.bind("text_projection.weight", {c.projection_dim, c.hidden_size}), nullptr,
      c.hidden_size, c.projection_dim};
  ops::Dense dense = ops::Dense::float32(runtime, {&w, 1});
  weights.release(w.weight, static_cast<size_t>(w.in * w.out));
  return dense;
}

bool is_siglip(const TextConfig& c) { return c.family == ModelFamily::kSiglip; }

ops::Dense bind_head(Runtime& runtime, WeightFile& weights, const TextConfig& c) {
  if (!is_siglip(c)) return {};
  const ops::LinearWeights w{weights.bind(kText + "head.weight", {c.hidden_size, c.hidden_size}),
                             weights.bind(kText + "head.bias", {c.hidden_size}), c.hidden_size,
                             c.hidden_size};
  ops::Dense dense = ops::Dense::float32(runtime, {&w, 1});
  weights.release(w.weight, static_cast<size_t>(w.in * w.out));
  return dense;
}

}  // namespace

EncoderShape TextTransformer::encoder_shape(const TextConfig& c) {
  return {c.hidden_size,       c.intermediate_size, c.num_attention_heads,
          c.num_hidden_layers, c.hidden_act,        c.layer_norm_eps};
}

TextTransformer::TextTransformer(Runtime& runtime, WeightFile& weights, const TextConfig& c,
                                 Precision precision)
    : config_(c),
      token_embedding_(
          weights.bind(kText + "embeddings.token_embedding.weight", {c.vocab_size, c.hidden_size})),
      position_embedding_(weights.bind(kText + "embeddings.position_embedding.weight",
                                       {c.max_position_embeddings, c.hidden_size})),
      encoder_(runtime, weights, kText + "encoder.", encoder_shape(c), precision,
               /*float32_attention=*/true),
      final_ln_{weights.bind(kText + "final_layer_norm.weight", {c.hidden_size}),
                weights.bind(kText + "final_layer_norm.bias", {c.hidden_size})},
      projection_(bind_projection(runtime, weights, c)),
      head_(bind_head(runtime, weights, c)) {}

int64_t TextTransformer::activation_bytes(const TextConfig& c, int64_t texts, Precision precision) {
  const int64_t rows = texts * c.max_position_embeddings, d = c.hidden_size;
  return (rows * d + texts * d) * int64_t{sizeof(float)} +  // x, the pooled rows.
         Encoder::activation_bytes(encoder_shape(c), rows, precision);
}

int64_t TextTransformer::pooled_position(std::span<const int32_t> ids) const {
  if (ids.empty()) return 0;
  if (is_siglip(config_)) return static_cast<int64_t>(ids.size()) - 1;
  if (config_.eos_token_id == 2) {
    // transformers' legacy rule (input_ids.argmax(-1)): the first position of the highest id.
    return std::max_element(ids.begin(), ids.end()) - ids.begin();
  }
  const auto it = std::find(ids.begin(), ids.end(), config_.eos_token_id);
  return it == ids.end() ? 0 : it - ids.begin();  // argmax of an all-false mask is 0.
}

void TextTransformer::forward(Runtime& runtime, std::span<const std::vector<int32_t>> ids,
                              float* out, TextActivations& buffers) const {
  const TextConfig& c = config_;
  const int64_t d = c.hidden_size, texts = static_cast<int64_t>(ids.size());
  int64_t* starts = sized(buffers.token_items, texts + 1);
  std::vector<int64_t> pooled_rows(static_cast<size_t>(texts));
  starts[0] = 0;
  for (int64_t i = 0; i < texts; ++i) {
    const std::vector<int32_t>& t = ids[static_cast<size_t>(i)];
    if (t.empty() || static_cast<int64_t>(t.size()) > c.max_position_embeddings) {
      throw Error(ErrorCode::kInvalidArgument, "a text has " + std::to_string(t.size()) +
                                                   " tokens; the model takes 1 to " +
                                                   std::to_string(c.max_position_embeddings));
    }
    const int64_t pooled = pooled_position(t);
    // CLIP: the rows after the pooled one cannot change it under the causal mask. SigLIP: no
    // mask, and the pooled row is the last anyway.
    starts[i + 1] = starts[i] + pooled + 1;
    pooled_rows[static_cast<size_t>(i)] = starts[i] + pooled;
  }
  const int64_t rows = starts[texts];
  float* x = sized(buffers.x, rows * d);
  for (int64_t i = 0; i < texts; ++i) {
    const std::vector<int32_t>& t = ids[static_cast<size_t>(i)];
    for (int64_t p = 0; p < starts[i + 1] - starts[i]; ++p) {
      const int32_t id = t[static_cast<size_t>(p)];
      if (id < 0 || id >= c.vocab_size) {
        throw Error(ErrorCode::kInvalidArgument, "token id " + std::to_string(id) +
                                                     " is outside the model's vocabulary of " +
                                                     std::to_string(c.vocab_size));
      }
      float* row = x + (starts[i] + p) * d;
      const float* token = token_embedding_ + int64_t{id} * d;
      const float* position = position_embedding_ + p * d;
      for (int64_t k = 0; k < d; ++k) row[k] = token[k] + position[k];
    }
  }
  const std::span<const int64_t> items(starts, static_cast<size_t>(texts + 1));
  encoder_.run(runtime, x, items,
               is_siglip(c) ? ops::AttentionMask::kNone : ops::AttentionMask::kCausal, pooled_rows,
               buffers.encoder);

  float* pooled = sized(buffers.pooled, texts * d);
  for (int64_t i = 0; i < texts; ++i) {
    std::memcpy(pooled + i * d, x + pooled_rows[static_cast<size_t>(i)] * d,
                static_cast<size_t>(d) * sizeof(float));
  }
  ops::layer_norm(runtime, pooled, pooled, texts, d, final_ln_.gamma, final_ln_.beta,
                  c.layer_norm_eps);
  const ops::Dense& last = is_siglip(c) ? head_ : projection_;
  if (last.out() == 0) {
    std::memcpy(out, pooled, static_cast<size_t>(texts * d) * sizeof(float));
    return;
  }
  last.apply(runtime, pooled, texts, out, {}, buffers.encoder.dense);
}

}  // namespace clipembed::model
