// clipembed/config.h: what a model directory says about its model, read once before any weight.
//
//   clipembed::ModelConfig config = clipembed::ModelConfig::read("clip-vit-base-patch32");
//   config.has_text();      // a CLIPModel with tokenizer files: true
//   config.dimension();     // 512
//   auto model = clipembed::ClipModel::load(config);    // no second read of the configs
//
// A directory holds config.json (CLIPModel: both towers; CLIPVisionModel(WithProjection) or
// CLIPTextModel(WithProjection): one; SiglipModel, SiglipVisionModel, SiglipTextModel likewise),
// model.safetensors, preprocessor_config.json with a vision tower, and tokenizer files for the
// text tower (CLIP: tokenizer.json, or vocab.json + merges.txt; SigLIP: spiece.model; SigLIP 2:
// tokenizer.model beside its tokenizer.json).
// Missing keys take transformers' defaults, as transformers omits values equal to them.
// A directory in OpenCLIP's own format (open_clip_config.json + open_clip_model.safetensors, as
// laion publishes them) is read too when it has no config.json: the same CLIP architecture, with
// open_clip's preprocessing and text cleaning (CheckpointFormat::kOpenClip); its tokenizer files
// are CLIP's (vocab.json + merges.txt or tokenizer.json).
//
// Threading rule: configs are plain values.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "clipembed/preprocess.h"

namespace clipembed {

enum class HiddenAct { kQuickGelu, kGelu, kGeluTanh /* gelu_pytorch_tanh */ };

// The architecture a directory holds (config.json's model_type). It decides each tower's
// layout and pooling, the tokenizer, the preprocessing and the zero-shot rule:
// - kClip: transformers' CLIPModel (class token, pre-LayerNorm, projections, causal text mask
//   pooled at the end token, softmax over labels).
// - kSiglip: SiglipModel, SigLIP and SigLIP 2 (no class token, an attention-pooling head, text
//   without a causal mask pooled at the last position through a Linear head, sigmoid per label).
enum class ModelFamily { kClip, kSiglip };
const char* model_family_name(ModelFamily family);  // "clip" or "siglip".

// Whose code a checkpoint was written for, which decides its tensor names and the reference its
// vectors must equal: transformers (config.json + model.safetensors) or open_clip
// (open_clip_config.json + open_clip_model.safetensors: resize before the RGB conversion,
// torchvision's crop rounding, ftfy + HTML unescaping of texts).
enum class CheckpointFormat { kTransformers, kOpenClip };
const char* checkpoint_format_name(CheckpointFormat format);  // "transformers" or "open_clip".

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
  ModelFamily family = ModelFamily::kClip;

  // Parses config.json text: a CLIPModel config (vision_config + top-level projection_dim) or a
  // vision-only config (or SigLIP's). Missing keys take the family's defaults. Throws
  // Error(kModelInvalid) naming `source`.
  static VisionConfig parse(const std::string& json_text, const std::string& source);

  int grid() const { return image_size / patch_size; }
  // One per patch (the pixels past the last whole patch are not used), plus CLIP's class token.
  int num_positions() const { return grid() * grid() + (family == ModelFamily::kClip ? 1 : 0); }
  int64_t parameter_count() const;
};

struct TextConfig {
  int vocab_size = 49408;
  int hidden_size = 512;
  int intermediate_size = 2048;
  int num_hidden_layers = 12;
  int num_attention_heads = 8;
  int max_position_embeddings = 77;  // The context: texts are truncated to it.
  HiddenAct hidden_act = HiddenAct::kQuickGelu;
  float layer_norm_eps = 1e-5f;
  int projection_dim = 512;  // 0 when the checkpoint has no text projection.
  // The pooled position is the end token's: with eos_token_id 2 (the legacy value in
  // openai/clip-* configs) transformers takes the first position of the highest id, else the
  // first position holding eos_token_id.
  int eos_token_id = 49407;
  bool text_only = false;  // A CLIPTextModel(WithProjection) config.
  // kSiglip: texts are padded to max_position_embeddings and pooled at the last position.
  ModelFamily family = ModelFamily::kClip;

  // Parses config.json text: a CLIPModel config (text_config + top-level projection_dim) or a
  // text-only config (or SigLIP's). Missing keys take the family's defaults. Throws
  // Error(kModelInvalid).
  static TextConfig parse(const std::string& json_text, const std::string& source);

  int64_t parameter_count() const;
};

struct ModelConfig {
  std::string directory;
  ModelFamily family = ModelFamily::kClip;
  CheckpointFormat format = CheckpointFormat::kTransformers;
  std::string config_file = "config.json";         // Inside `directory`.
  std::string weights_file = "model.safetensors";  // Inside `directory`.
  std::optional<VisionConfig> vision;
  std::optional<PreprocessConfig> preprocess;  // Present with the vision tower.
  std::optional<TextConfig> text;
  // Why the text tower cannot be used although the checkpoint has one (its tokenizer files are
  // missing); empty when it can.
  std::string text_unavailable;

  // Reads config.json (once), preprocessor_config.json for a vision tower, and the tensor index of
  // model.safetensors (for a vision-only checkpoint, whether it has a projection), or
  // open_clip_config.json where there is no config.json. Throws
  // Error(kModelInvalid) naming what is missing or malformed (kUnsupported for settings clipembed
  // does not implement).
  static ModelConfig read(const std::string& directory);

  bool has_vision() const { return vision.has_value(); }
  bool has_text() const { return text.has_value() && text_unavailable.empty(); }
  // The embedding dimension: the projection's (both towers project to the same space), else the
  // pooled output's.
  int dimension() const;
};

}  // namespace clipembed
