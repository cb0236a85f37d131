#include "model/encoder.h"

#include <algorithm>
#include <array>

namespace clipembed::model {

ops::Dense pack_dense(Runtime& runtime, WeightFile& weights,
                      std::span<const ops::LinearWeights> parts, Precision precision) {
  ops::Dense dense = precision == Precision::kInt8   ? ops::Dense::int8(runtime, parts)
                     : precision == Precision::kBf16 ? ops::Dense::bf16(runtime, parts)
                                                     : ops::Dense::float32(runtime, parts);
  for (const ops::LinearWeights& p : parts) {
    weights.release(p.weight, static_cast<size_t>(p.in * p.out));
  }
  return dense;
}

Encoder::Encoder(Runtime& runtime, WeightFile& weights, const std::string& prefix,
                 const EncoderShape& shape, Precision precision, bool float32_attention)
    : shape_(shape) {
  const Precision attention =
      float32_attention && precision == Precision::kInt8 ? Precision::kF32 : precision;
  const int64_t d = shape.hidden, f = shape.intermediate;
  layers_.reserve(static_cast<size_t>(shape.layers));
  for (int64_t i = 0; i < shape.layers; ++i) {
    const std::string l = prefix + "layers." + std::to_string(i) + ".";
    auto linear = [&](const std::string& name, int64_t out, int64_t in) {
      return ops::LinearWeights{weights.bind(l + name + ".weight", {out, in}),
                                weights.bind(l + name + ".bias", {out}), in, out};
    };
    Layer layer;
    layer.ln1 = {weights.bind(l + "layer_norm1.weight", {d}),
                 weights.bind(l + "layer_norm1.bias", {d})};
    layer.ln2 = {weights.bind(l + "layer_norm2.weight", {d}),
                 weights.bind(l + "layer_norm2.bias", {d})};
    const std::array<ops::LinearWeights, 3> qkv{linear("self_attn.q_proj", d, d),
                                                linear("self_attn.k_proj", d, d),
                                                linear("self_attn.v_proj", d, d)};
    layer.qkv = pack_dense(runtime, weights, qkv, attention);
    const ops::LinearWeights out = linear("self_attn.out_proj", d, d);
    layer.out = pack_dense(runtime, weights, {&out, 1}, attention);
    const ops::LinearWeights fc1 = linear("mlp.fc1", f, d);
    layer.fc1 = pack_dense(runtime, weights, {&fc1, 1}, precision);
    const ops::LinearWeights fc2 = linear("mlp.fc2", d, f);
    layer.fc2 = pack_dense(runtime, weights, {&fc2, 1}, precision);
    layers_.push_back(std::move(layer));
  }
}

size_t Encoder::owned_bytes() const {
  size_t total = 0;
  for (const Layer& l : layers_) {
    total += l.qkv.owned_bytes() + l.out.owned_bytes() + l.fc1.owned_bytes() + l.fc2.owned_bytes();
  }
  return total;
}

int64_t Encoder::activation_bytes(const EncoderShape& s, int64_t rows, Precision precision) {
  const int64_t d = s.hidden, f = s.intermediate;
  // h, the stacked query/key/value rows, the attention output and the MLP rows (the products'
  // inputs at their padded strides).
  const int64_t hd = ops::activation_stride(d);
  int64_t bytes = rows * (hd + 3 * d + hd + ops::activation_stride(f)) * int64_t{sizeof(float)};
  if (precision == Precision::kInt8) {
    // The int32 product of the widest layer and the codes of the widest input.
    bytes += rows * std::max(3 * d, f) * int64_t{sizeof(int32_t)} +
             rows * ops::activation_code_stride(std::max(d, f));
  }
  if (precision == Precision::kBf16) {
    // The bf16 copy of the widest input.
    bytes += rows * ops::activation_half_stride(std::max(d, f)) * int64_t{sizeof(uint16_t)};
  }
  return bytes;
}

void Encoder::run(Runtime& runtime, float* x, std::span<const int64_t> item_starts,
                  ops::AttentionMask mask, std::span<const int64_t> pooled_rows,
                  EncoderActivations& buffers) const {
  const int64_t d = shape_.hidden, f = shape_.intermediate, rows = item_starts.back();
  const ops::Activation act = activation_of(shape_.act);
  // The products' inputs (h, attn, mlp) at padded strides: see ops::activation_stride.
  const int64_t hd = ops::activation_stride(d), fd = ops::activation_stride(f);
  float* h = sized(buffers.h, rows * hd);
  float* attn = sized(buffers.attn, rows * hd);
  float* qkv = sized(buffers.qkv, rows * 3 * d);
  float* mlp = sized(buffers.mlp, rows * fd);
  ops::DenseScratch& scratch = buffers.dense;
  const ops::AttentionShape attention{item_starts, shape_.heads, d / shape_.heads, mask};
  // What follows attention: the output projection and the MLP, on `m` rows of `y` (rows d apart).
  auto finish_layer = [&](const Layer& l, float* y, int64_t m) {
    l.out.apply(runtime, attn, hd, m, y, d, {.act = ops::Activation::kNone, .accumulate = true},
                scratch);
    l.fc1.apply_normalized(runtime, y, d, {l.ln2.gamma, l.ln2.beta, shape_.eps}, h, hd, m, mlp, fd,
                           {.act = act, .accumulate = false}, scratch);
    l.fc2.apply(runtime, mlp, fd, m, y, d, {.act = ops::Activation::kNone, .accumulate = true},
                scratch);
  };
  for (const Layer& l : layers_) {
    const ops::InputNorm norm1{l.ln1.gamma, l.ln1.beta, shape_.eps};
    if (&l != &layers_.back() || pooled_rows.empty()) {
      l.qkv.apply_normalized(runtime, x, d, norm1, h, hd, rows, qkv, 3 * d, {}, scratch);
      ops::attention(runtime, qkv, qkv + d, qkv + 2 * d, 3 * d, attention, attn, hd);
      finish_layer(l, x, rows);
      continue;
    }
    // The last layer: only the pooled rows go on past the keys and values (each row's result
    // depends on its own row and item alone, so they are the same bits as in a whole pass). The
    // other rows skip their queries, attention, output projection and MLP: 6.6% of ViT-B/32's
    // work (docs/perf.md).
    const int64_t count = static_cast<int64_t>(pooled_rows.size());
    float* y = sized(buffers.pooled, count * d);
    for (int64_t i = 0; i < count; ++i) std::copy_n(x + pooled_rows[i] * d, d, y + i * d);
    if (ops::Dense::splits_at(d)) {
      // Keys and values of every row, then the pooled rows' queries into their rows of qkv.
      l.qkv.apply_normalized(runtime, x, d, norm1, h, hd, rows, qkv, 3 * d, {.first_out = d},
                             scratch);
      float* queries = sized(buffers.pooled_queries, count * d);
      l.qkv.apply_normalized(runtime, y, d, norm1, h, hd, count, queries, d, {.end_out = d},
                             scratch);
      for (int64_t i = 0; i < count; ++i) {
        std::copy_n(queries + i * d, d, qkv + pooled_rows[i] * 3 * d);
      }
    } else {
      l.qkv.apply_normalized(runtime, x, d, norm1, h, hd, rows, qkv, 3 * d, {}, scratch);
    }
    ops::AttentionShape pooled_attention = attention;
    pooled_attention.query_rows = pooled_rows;
    ops::attention(runtime, qkv, qkv + d, qkv + 2 * d, 3 * d, pooled_attention, attn, hd);
    finish_layer(l, y, count);
    for (int64_t i = 0; i < count; ++i) std::copy_n(y + i * d, d, x + pooled_rows[i] * d);
  }
}

}  // namespace clipembed::model
