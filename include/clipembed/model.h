// clipembed/model.h: a CLIP vision tower loaded from a Hugging Face model directory.
//
//   auto model = clipembed::ClipVisionModel::load("clip-vit-base-patch32");  // throws Error
//   std::vector<float> v = model->embed_file("cat.jpg", {.normalize = true});
//   model->dimension();  // 512 for ViT-B/32
//
// The directory holds config.json (CLIPModel, CLIPVisionModel or CLIPVisionModelWithProjection),
// preprocessor_config.json and model.safetensors. Outputs equal transformers' `image_embeds`
// (or the pooled output of a CLIPVisionModel, which has no projection).
//
// Threading rule: a loaded model is immutable and may be used from any number of threads at
// once; weights are memory-mapped and shared. Each call computes on shared_runtime() and blocks
// until done; calling from a runtime thread is safe (see runtime.h).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "clipembed/image.h"
#include "clipembed/preprocess.h"

namespace clipembed {

enum class HiddenAct { kQuickGelu, kGelu };

struct VisionConfig {
  int hidden_size = 768;
  int intermediate_size = 3072;
  int num_hidden_layers = 12;
  int num_attention_heads = 12;
  int num_channels = 3;
  int image_size = 224;
  int patch_size = 32;
  HiddenAct hidden_act = HiddenAct::kQuickGelu;
  float layer_norm_eps = 1e-5f;
  int projection_dim = 512;  // 0 when the checkpoint has no visual projection.
  // True for CLIPVisionModel(WithProjection) configs, whose checkpoints may lack the projection
  // (a plain CLIPVisionModel then yields its pooled output); false for a full CLIPModel.
  bool vision_only = false;

  // Parses config.json text: a CLIPModel config (vision_config + top-level projection_dim) or a
  // vision-only config. Missing keys take CLIPVisionConfig's defaults (as transformers omits
  // them). Throws Error(kModelInvalid) naming `source`.
  static VisionConfig parse(const std::string& json_text, const std::string& source);

  int grid() const { return image_size / patch_size; }
  int num_positions() const { return grid() * grid() + 1; }
  int64_t parameter_count() const;
};

struct EmbedOptions {
  bool normalize = false;  // L2-normalise each embedding.
  // Compute each image of a batch on its own products, so that its vector is bit-identical to
  // embedding it alone, whatever it is batched with. Costs about 15% at batch 8 with the current
  // GEMM (which repacks the weights per call); without it, batched vectors may differ from single
  // ones in the last bits (relative 1e-6).
  bool batch_invariant = false;
};

// How the encoder's matrix products are computed; chosen at load.
enum class Precision {
  kF32,   // float32 throughout: equals transformers to about 1e-6 (the default).
  kInt8,  // Weights quantized at load to 8-bit codes per output channel, activations per token
          // before each product, exact integer products: about 2x faster on AVX2, cosine to the
          // float32 vector >= 0.99 (docs/perf.md has the measured accuracy per model).
};

// "fp32" (also "f32", "float32") or "int8". Half precision ("f16", "fp16", "bf16") is refused with
// kUnsupported: no CPU path here computes it faster than float32. Other names: kInvalidArgument.
Precision parse_precision(const std::string& name);
const char* precision_name(Precision precision);  // "fp32" or "int8".

struct LoadOptions {
  DecodeOptions decode;  // Limits applied by embed_file() and embed_encoded().
  Precision precision = Precision::kF32;
};

// Resolves a model reference: a directory as is, or a Hugging Face repo id such as
// "openai/clip-vit-base-patch32" found in the local hub cache (HF_HUB_CACHE, else HF_HOME/hub, else
// ~/.cache/huggingface/hub; snapshot from refs/main). Throws Error(kModelInvalid) saying how to
// download a missing model.
std::string locate_model(const std::string& reference);

// The Hugging Face home the environment selects: HF_HOME, else XDG_CACHE_HOME/huggingface, else
// ~/.cache/huggingface (where `huggingface-cli login` keeps its token).
std::string hub_home_directory();

// The hub cache directory the environment selects (see locate_model): HF_HUB_CACHE, else
// hub_home_directory()/hub.
std::string hub_cache_directory();

class ClipVisionModel {
 public:
  // Loads a model directory. Throws Error: kIo for unreadable files, kModelInvalid for
  // malformed or mismatched configs and weights, kUnsupported for unsupported settings.
  static std::shared_ptr<const ClipVisionModel> load(const std::string& directory,
                                                     const LoadOptions& options = {});
  ~ClipVisionModel();
  ClipVisionModel(const ClipVisionModel&) = delete;
  ClipVisionModel& operator=(const ClipVisionModel&) = delete;

  int dimension() const;
  const VisionConfig& vision_config() const;
  const PreprocessConfig& preprocess_config() const;
  const std::string& directory() const;
  // How the checkpoint stores the weights ("F32", "F16", "BF16"); they are used as float32, or
  // quantized to int8 at load under Precision::kInt8.
  const std::string& weights_dtype() const;
  Precision precision() const;

  // The crop the network sees for a decoded image.
  Image preprocess(const Image& image) const;

  std::vector<float> embed(const Image& image, const EmbedOptions& options = {}) const;
  // One vector per image, equal to embedding each alone.
  std::vector<std::vector<float>> embed_batch(std::span<const Image> images,
                                              const EmbedOptions& options = {}) const;
  std::vector<float> embed_encoded(std::span<const uint8_t> bytes,
                                   const EmbedOptions& options = {}) const;
  std::vector<float> embed_file(const std::string& path, const EmbedOptions& options = {}) const;

  // Runs the network on already preprocessed pixels: `count` x 3 x H x W floats, channels first.
  // Writes count x dimension() floats to `out`.
  void forward(const float* pixel_values, int64_t count, float* out,
               const EmbedOptions& options = {}) const;

 private:
  struct State;
  explicit ClipVisionModel(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace clipembed
