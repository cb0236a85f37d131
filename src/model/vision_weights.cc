#include "model/vision_weights.h"

#include <cstring>

#include "clipembed/error.h"

namespace clipembed::model {
namespace {

float half_to_float(uint16_t h) {
  const uint32_t sign = uint32_t{h & 0x8000u} << 16;
  uint32_t exp = (h >> 10) & 0x1f, mant = h & 0x3ffu, bits = 0;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // Subnormal: normalise.
      exp = 127 - 15 + 1;
      while ((mant & 0x400u) == 0) {
        mant <<= 1;
        --exp;
      }
      bits = sign | (exp << 23) | ((mant & 0x3ffu) << 13);
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | (mant << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

}  // namespace

const float* VisionWeights::bind(const std::string& name, const std::vector<int64_t>& shape) {
  const TensorInfo* t = file_->find(name);
  auto bad = [&](const std::string& what) {
    throw Error(ErrorCode::kModelInvalid, file_->path() + ": tensor '" + name + "' " + what);
  };
  if (t == nullptr) bad("is missing");
  if (t->shape != shape) {
    bad("has shape " + shape_text(t->shape) + " but the config implies " + shape_text(shape));
  }
  const size_t n = static_cast<size_t>(t->numel());
  const uint8_t* src = t->data.data();
  if (t->dtype == DType::kF32 && reinterpret_cast<uintptr_t>(src) % alignof(float) == 0) {
    return reinterpret_cast<const float*>(src);
  }
  std::vector<float> out(n);
  switch (t->dtype) {
    case DType::kF32:
      std::memcpy(out.data(), src, n * sizeof(float));
      break;
    case DType::kF16:
      for (size_t i = 0; i < n; ++i) {
        out[i] = half_to_float(static_cast<uint16_t>(src[2 * i] | (src[2 * i + 1] << 8)));
      }
      break;
    case DType::kBF16:
      for (size_t i = 0; i < n; ++i) {
        const uint32_t bits = (uint32_t{src[2 * i]} << 16) | (uint32_t{src[2 * i + 1]} << 24);
        std::memcpy(&out[i], &bits, 4);
      }
      break;
    default:
      bad("has dtype " + t->dtype_name + "; only F32, F16 and BF16 are supported");
  }
  converted_.push_back(std::move(out));
  return converted_.back().data();
}

VisionWeights::VisionWeights(std::unique_ptr<SafetensorsFile> file, VisionConfig& c)
    : file_(std::move(file)) {
  const int64_t d = c.hidden_size, f = c.intermediate_size, p = c.patch_size;
  const std::string e = "vision_model.embeddings.";
  class_embedding = bind(e + "class_embedding", {d});
  stored_dtype_ = file_->find(e + "class_embedding")->dtype_name;
  patch = {bind(e + "patch_embedding.weight", {d, c.num_channels, p, p}), nullptr,
           c.num_channels * p * p, d};
  position_embedding = bind(e + "position_embedding.weight", {c.num_positions(), d});
  // "pre_layrnorm" is the name transformers uses (sic).
  pre_ln = {bind("vision_model.pre_layrnorm.weight", {d}),
            bind("vision_model.pre_layrnorm.bias", {d})};
  for (int i = 0; i < c.num_hidden_layers; ++i) {
    const std::string l = "vision_model.encoder.layers." + std::to_string(i) + ".";
    auto linear = [&](const std::string& name, int64_t out, int64_t in) {
      return ops::LinearWeights{bind(l + name + ".weight", {out, in}),
                                bind(l + name + ".bias", {out}), in, out};
    };
    EncoderLayerWeights w;
    w.ln1 = {bind(l + "layer_norm1.weight", {d}), bind(l + "layer_norm1.bias", {d})};
    w.q = linear("self_attn.q_proj", d, d);
    w.k = linear("self_attn.k_proj", d, d);
    w.v = linear("self_attn.v_proj", d, d);
    w.out = linear("self_attn.out_proj", d, d);
    w.ln2 = {bind(l + "layer_norm2.weight", {d}), bind(l + "layer_norm2.bias", {d})};
    w.fc1 = linear("mlp.fc1", f, d);
    w.fc2 = linear("mlp.fc2", d, f);
    layers.push_back(w);
  }
  post_ln = {bind("vision_model.post_layernorm.weight", {d}),
             bind("vision_model.post_layernorm.bias", {d})};
  if (file_->find("visual_projection.weight") == nullptr && c.vision_only) {
    c.projection_dim = 0;
    return;
  }
  projection = {bind("visual_projection.weight", {c.projection_dim, d}), nullptr, d,
                c.projection_dim};
}

void VisionWeights::release_layer_products(size_t layer) {
  const EncoderLayerWeights& w = layers.at(layer);
  for (const ops::LinearWeights* l : {&w.q, &w.k, &w.v, &w.out, &w.fc1, &w.fc2}) {
    file_->release(l->weight, static_cast<size_t>(l->in * l->out) * sizeof(float));
  }
}

size_t VisionWeights::converted_bytes() const {
  size_t n = 0;
  for (const auto& v : converted_) n += v.size() * sizeof(float);
  return n;
}

}  // namespace clipembed::model
