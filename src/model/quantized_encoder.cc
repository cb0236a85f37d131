#include "model/quantized_encoder.h"

#include <algorithm>
#include <array>

#include "ops/attention.h"
#include "ops/layer_norm.h"

namespace clipembed::model {
namespace {

size_t bytes_of(const ops::QuantizedLinear& q) {
  return q.weight.size() + (q.scale.size() + q.bias.size()) * sizeof(float) +
         q.code_sum.size() * sizeof(int32_t);
}

}  // namespace

QuantizedEncoder::QuantizedEncoder(Runtime& runtime, const VisionConfig& config,
                                   VisionWeights& weights)
    : config_(config), weights_(weights) {
  layers_.reserve(weights.layers.size());
  for (size_t i = 0; i < weights.layers.size(); ++i) {
    const EncoderLayerWeights& w = weights.layers[i];
    const std::array<ops::LinearWeights, 3> qkv{w.q, w.k, w.v};
    Layer layer;
    layer.qkv = ops::QuantizedLinear::quantize(runtime, qkv);
    layer.out = ops::QuantizedLinear::quantize(runtime, {&w.out, 1});
    layer.fc1 = ops::QuantizedLinear::quantize(runtime, {&w.fc1, 1});
    layer.fc2 = ops::QuantizedLinear::quantize(runtime, {&w.fc2, 1});
    layers_.push_back(std::move(layer));
    weights.release_layer_products(i);
  }
}

size_t QuantizedEncoder::weight_bytes() const {
  size_t total = 0;
  for (const Layer& l : layers_) {
    total += bytes_of(l.qkv) + bytes_of(l.out) + bytes_of(l.fc1) + bytes_of(l.fc2);
  }
  return total;
}

int64_t QuantizedEncoder::activation_bytes(const VisionConfig& c, int64_t count) {
  const int64_t tokens = count * c.num_positions();
  const int64_t widest = std::max<int64_t>(3 * int64_t{c.hidden_size}, c.intermediate_size);
  // The int32 product, the codes of the widest input, and the stacked query/key/value rows.
  return tokens * widest * static_cast<int64_t>(sizeof(int32_t)) + tokens * c.intermediate_size +
         tokens * 3 * c.hidden_size * int64_t{sizeof(float)};
}

void QuantizedEncoder::encode(Runtime& runtime, float* x, int64_t count) const {
  const VisionConfig& c = config_;
  const int64_t d = c.hidden_size, f = c.intermediate_size, n = c.num_positions();
  const int64_t tokens = count * n;
  const kernels::Activation act = c.hidden_act == HiddenAct::kGelu
                                      ? kernels::Activation::kGelu
                                      : kernels::Activation::kQuickGelu;
  std::vector<float> h(static_cast<size_t>(tokens * d)), attn(h.size());
  std::vector<float> qkv(static_cast<size_t>(tokens * 3 * d)), mlp(static_cast<size_t>(tokens * f));
  std::vector<int32_t> product(static_cast<size_t>(tokens * std::max(3 * d, f)));
  ops::QuantizedRows codes;
  const ops::AttentionShape shape{count, n, c.num_attention_heads, d / c.num_attention_heads};
  for (size_t i = 0; i < layers_.size(); ++i) {
    const Layer& q = layers_[i];
    const EncoderLayerWeights& w = weights_.layers[i];
    ops::layer_norm(runtime, x, h.data(), tokens, d, w.ln1.gamma, w.ln1.beta, c.layer_norm_eps);
    ops::quantize_rows(runtime, h.data(), tokens, d, codes);
    ops::linear_int8(runtime, codes, q.qkv, product.data(), qkv.data());
    ops::attention(runtime, qkv.data(), qkv.data() + d, qkv.data() + 2 * d, 3 * d, shape,
                   attn.data(), d);
    ops::quantize_rows(runtime, attn.data(), tokens, d, codes);
    ops::linear_int8(runtime, codes, q.out, product.data(), x, kernels::Activation::kNone,
                     /*accumulate=*/true);
    ops::layer_norm(runtime, x, h.data(), tokens, d, w.ln2.gamma, w.ln2.beta, c.layer_norm_eps);
    ops::quantize_rows(runtime, h.data(), tokens, d, codes);
    ops::linear_int8(runtime, codes, q.fc1, product.data(), mlp.data(), act);
    ops::quantize_rows(runtime, mlp.data(), tokens, f, codes);
    ops::linear_int8(runtime, codes, q.fc2, product.data(), x, kernels::Activation::kNone,
                     /*accumulate=*/true);
  }
}

}  // namespace clipembed::model
