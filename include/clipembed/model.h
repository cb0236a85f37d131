// clipembed/model.h: a CLIP vision tower loaded from a Hugging Face model directory.
//
//   auto model = clipembed::ClipVisionModel::load("clip-vit-base-patch32");  // throws Error
//   clipembed::Embedding v = model->embed_image("cat.jpg", {.normalize = true});
//   auto vs = model->embed_images(std::vector<clipembed::ImageInput>{"a.jpg", "b.png"});
//   model->dimension();  // 512 for ViT-B/32
//
// The directory holds config.json (CLIPModel, CLIPVisionModel or CLIPVisionModelWithProjection),
// preprocessor_config.json and model.safetensors. Outputs equal transformers' `image_embeds`
// (or the pooled output of a CLIPVisionModel, which has no projection).
//
// Threading rule: a loaded model is immutable and may be used from any number of threads at
// once; weights are memory-mapped and shared, activations belong to each call. Each call computes
// on shared_runtime() and blocks until done; calling from a runtime thread is safe (runtime.h).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "clipembed/image.h"
#include "clipembed/input.h"
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

// What a model directory says about its model, read once: the configs a load, a memory estimate
// and the embedding dimension all need, before any weight is touched.
struct ModelConfig {
  std::string directory;
  VisionConfig vision;
  PreprocessConfig preprocess;

  // Reads config.json and preprocessor_config.json of `directory` and the tensor index of
  // model.safetensors (for a vision-only checkpoint, whether it has a projection). Throws
  // Error(kModelInvalid) naming what is missing or malformed (kUnsupported for settings clipembed
  // does not implement).
  static ModelConfig read(const std::string& directory);

  // The embedding dimension: the projection's, else the pooled output's.
  int dimension() const {
    return vision.projection_dim > 0 ? vision.projection_dim : vision.hidden_size;
  }
};

using Embedding = std::vector<float>;

struct EmbedOptions {
  bool normalize = false;  // L2-normalise each embedding.
  // Compute each image of a batch on its own products, so that its vector is bit-identical to
  // embedding it alone, whatever it is batched with (the default). False lets a batch share its
  // float32 products, which is faster at larger batches (docs/perf.md); vectors may then differ
  // from single ones in the last bits (relative 1e-6).
  bool batch_invariant = true;
};

// Scales `embedding` to unit L2 length in place (a zero vector stays zero).
void normalize_embedding(std::span<float> embedding);

// How the encoder's matrix products are computed; chosen at load.
enum class Precision {
  kF32,   // float32 throughout: equals transformers to about 1e-6 (the default).
  kInt8,  // Weights quantized at load to 8-bit codes per output channel, activations per token
          // before each product, exact integer products (docs/perf.md has the measured speed and
          // accuracy per model).
};

// "fp32" (also "f32", "float32") or "int8". Half precision ("f16", "fp16", "bf16") is refused with
// kUnsupported: no CPU path here computes it faster than float32. Other names: kInvalidArgument.
Precision parse_precision(const std::string& name);
const char* precision_name(Precision precision);  // "fp32" or "int8".

// The buffers of a forward pass (pixel values and activations), kept between calls so that
// repeated batches neither allocate them nor fault their pages in again. Give one to
// embed_crops()/forward() to reuse it; it grows to the largest batch it has run and keeps that
// memory until destroyed. Threading rule: one call at a time per workspace (a pool worker, a
// pipeline stage); a call without one uses a workspace of its own.
class Workspace {
 public:
  Workspace();
  ~Workspace();
  Workspace(Workspace&&) noexcept;
  Workspace& operator=(Workspace&&) noexcept;

  struct Buffers;  // Defined inside the library.

 private:
  friend class ClipVisionModel;
  std::unique_ptr<Buffers> buffers_;
};

struct LoadOptions {
  InputLimits input;  // Limits applied when the model reads inputs (files, URLs, base64).
  Precision precision = Precision::kF32;
};

class ClipVisionModel {
 public:
  // Loads a model directory. Throws Error: kIo for unreadable files, kModelInvalid for
  // malformed or mismatched configs and weights, kUnsupported for unsupported settings.
  static std::shared_ptr<const ClipVisionModel> load(const std::string& directory,
                                                     const LoadOptions& options = {});
  // Loads from configs already read (ModelConfig::read), without reading them again.
  static std::shared_ptr<const ClipVisionModel> load(const ModelConfig& config,
                                                     const LoadOptions& options = {});
  ~ClipVisionModel();
  ClipVisionModel(const ClipVisionModel&) = delete;
  ClipVisionModel& operator=(const ClipVisionModel&) = delete;

  int dimension() const;
  const ModelConfig& config() const;
  const VisionConfig& vision_config() const;
  const PreprocessConfig& preprocess_config() const;
  const std::string& directory() const;
  // How the checkpoint stores the weights ("F32", "F16", "BF16"); they are used as float32, or
  // quantized to int8 at load under Precision::kInt8.
  const std::string& weights_dtype() const;
  Precision precision() const;
  const InputLimits& input_limits() const;

  // The crop the network sees for a decoded image.
  Image preprocess(const Image& image) const;

  // Reads (under input_limits()), preprocesses and embeds one input. Throws Error.
  Embedding embed_image(const ImageInput& input, const EmbedOptions& options = {}) const;
  // One vector per input, in order; inputs are read and preprocessed in parallel and run through
  // the network in batches. Throws the first input's error (naming its index).
  std::vector<Embedding> embed_images(std::span<const ImageInput> inputs,
                                      const EmbedOptions& options = {}) const;

  // The one batch path: runs preprocessed crops (preprocess()) through the network as one batch
  // and writes crops.size() x dimension() floats to `out`. Every embedding call ends here.
  void embed_crops(std::span<const Image* const> crops, float* out,
                   const EmbedOptions& options = {}, Workspace* workspace = nullptr) const;

  // Runs the network on pixel values already normalised: `count` x 3 x H x W floats, channels
  // first. Writes count x dimension() floats to `out`.
  void forward(const float* pixel_values, int64_t count, float* out,
               const EmbedOptions& options = {}, Workspace* workspace = nullptr) const;

 private:
  struct State;
  explicit ClipVisionModel(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace clipembed
