#include "pool/memory_budget.h"

#include <unistd.h>

#include <algorithm>
#include <set>

#include "clipembed/pool.h"
#include "model/text_transformer.h"
#include "model/vision_transformer.h"

namespace clipembed::pool {

uint64_t physical_memory_bytes() {
  const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
  return pages > 0 && page > 0 ? static_cast<uint64_t>(pages) * static_cast<uint64_t>(page) : 0;
}

bool MemoryBudget::try_reserve(uint64_t bytes) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (bytes > total_ - used_) return false;
  used_ += bytes;
  return true;
}

void MemoryBudget::release(uint64_t bytes) {
  std::lock_guard<std::mutex> lock(mutex_);
  used_ = bytes > used_ ? 0 : used_ - bytes;
}

uint64_t MemoryBudget::headroom() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return total_ - used_;
}

}  // namespace clipembed::pool

namespace clipembed {

MemoryEstimate estimate_memory(const VisionConfig& config, int batch_size, Precision precision) {
  MemoryEstimate e;
  e.weight_bytes = static_cast<uint64_t>(config.parameter_count()) * sizeof(float);
  // The products packed in the precision release their float32 copies: int8 (the encoder's and
  // the patch embedding) keeps one byte a weight plus a scale and a code sum an output channel,
  // bf16 (the encoder's) two bytes a weight; biases and everything else stay float32.
  const uint64_t d = static_cast<uint64_t>(config.hidden_size);
  const uint64_t f = static_cast<uint64_t>(config.intermediate_size);
  const uint64_t layers = static_cast<uint64_t>(config.num_hidden_layers);
  const uint64_t patch_in =
      static_cast<uint64_t>(config.num_channels) * config.patch_size * config.patch_size;
  const uint64_t encoder = layers * (4 * d * d + 2 * d * f);
  if (precision == Precision::kInt8) {
    const uint64_t weights = encoder + d * patch_in, channels = layers * (4 * d + f + d) + d;
    e.weight_bytes -= weights * sizeof(float);
    e.weight_bytes += weights + channels * (sizeof(float) + sizeof(int32_t));
  }
  if (precision == Precision::kBf16) e.weight_bytes -= encoder * (sizeof(float) - sizeof(uint16_t));
  e.activation_bytes_per_worker = static_cast<uint64_t>(
      model::VisionTransformer::activation_bytes(config, std::max(1, batch_size), precision));
  return e;
}

MemoryEstimate estimate_memory(const ModelConfig& config, int batch_size, Precision precision) {
  MemoryEstimate e;
  if (config.vision) e = estimate_memory(*config.vision, batch_size, precision);
  if (config.has_text()) {
    const TextConfig& t = *config.text;
    uint64_t weights = static_cast<uint64_t>(t.parameter_count()) * sizeof(float);
    const uint64_t d = static_cast<uint64_t>(t.hidden_size);
    const uint64_t f = static_cast<uint64_t>(t.intermediate_size);
    const uint64_t layers = static_cast<uint64_t>(t.num_hidden_layers);
    const uint64_t products = layers * (4 * d * d + 2 * d * f);
    if (precision == Precision::kInt8) {
      const uint64_t channels = layers * (5 * d + f);
      weights = weights - products * sizeof(float) + products +
                channels * (sizeof(float) + sizeof(int32_t));
    }
    if (precision == Precision::kBf16) weights -= products * (sizeof(float) - sizeof(uint16_t));
    e.weight_bytes += weights;
    // A worker runs one batch at a time, of images or of texts.
    e.activation_bytes_per_worker =
        std::max<uint64_t>(e.activation_bytes_per_worker,
                           static_cast<uint64_t>(model::TextTransformer::activation_bytes(
                               t, std::max(1, batch_size), precision)));
  }
  return e;
}

std::vector<KnownModel> known_models(int batch_size) {
  // Architectures of the published OpenAI CLIP checkpoints (their config.json values).
  struct Arch {
    const char* key;
    int width, layers, heads, patch, image, projection;
  };
  static const Arch kArchs[] = {
      {"openai/clip-vit-base-patch32", 768, 12, 12, 32, 224, 512},
      {"openai/clip-vit-base-patch16", 768, 12, 12, 16, 224, 512},
      {"openai/clip-vit-large-patch14", 1024, 24, 16, 14, 224, 768},
      {"openai/clip-vit-large-patch14-336", 1024, 24, 16, 14, 336, 768},
  };
  std::vector<KnownModel> out;
  for (const Arch& a : kArchs) {
    VisionConfig c;
    c.hidden_size = a.width;
    c.intermediate_size = 4 * a.width;
    c.num_hidden_layers = a.layers;
    c.num_attention_heads = a.heads;
    c.patch_size = a.patch;
    c.image_size = a.image;
    c.projection_dim = a.projection;
    out.push_back({a.key, a.projection, estimate_memory(c, batch_size)});
  }
  return out;
}

std::vector<int> supported_dimensions() {
  std::set<int> dims;
  for (const KnownModel& m : known_models()) dims.insert(m.dimension);
  return {dims.begin(), dims.end()};
}

}  // namespace clipembed
