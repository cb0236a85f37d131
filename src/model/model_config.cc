// config.json as transformers writes it (CLIPModel, CLIPVisionModel(WithProjection),
// CLIPTextModel(WithProjection), SiglipModel, SiglipVisionModel, SiglipTextModel), with
// transformers' defaults for the keys it leaves out.
#include <filesystem>
#include <nlohmann/json.hpp>

#include "clipembed/config.h"
#include "clipembed/error.h"
#include "io/file.h"
#include "model/open_clip_config.h"
#include "model/safetensors.h"
#include "text/tokenizer.h"

namespace clipembed {
namespace {

using nlohmann::json;

[[noreturn]] void bad(const std::string& source, const std::string& what) {
  throw Error(ErrorCode::kModelInvalid, source + ": " + what);
}

int read_int(const json& j, const char* key, int fallback, const std::string& source,
             int max_value = 1 << 20, int min_value = 1) {
  if (!j.contains(key) || j[key].is_null()) return fallback;
  const json& v = j[key];
  if (!v.is_number_integer() || v.get<int64_t>() < min_value || v.get<int64_t>() > max_value) {
    bad(source, std::string("'") + key + "' must be an integer in [" + std::to_string(min_value) +
                    ", " + std::to_string(max_value) + "]");
  }
  return v.get<int>();
}

HiddenAct read_act(const json& j, HiddenAct fallback, const std::string& source) {
  if (!j.contains("hidden_act") || j["hidden_act"].is_null()) return fallback;
  if (!j["hidden_act"].is_string()) bad(source, "'hidden_act' must be a string");
  const std::string act = j["hidden_act"].get<std::string>();
  if (act == "quick_gelu") return HiddenAct::kQuickGelu;
  if (act == "gelu") return HiddenAct::kGelu;
  // transformers' gelu_new is the same tanh approximation.
  if (act == "gelu_pytorch_tanh" || act == "gelu_new") return HiddenAct::kGeluTanh;
  throw Error(
      ErrorCode::kUnsupported,
      source + ": hidden_act '" + act + "' is not supported (quick_gelu, gelu, gelu_pytorch_tanh)");
}

float read_eps(const json& j, float fallback, const std::string& source) {
  if (!j.contains("layer_norm_eps") || j["layer_norm_eps"].is_null()) return fallback;
  if (!j["layer_norm_eps"].is_number() || !(j["layer_norm_eps"].get<double>() > 0.0)) {
    bad(source, "'layer_norm_eps' must be a positive number");
  }
  return j["layer_norm_eps"].get<float>();
}

enum class Kind { kClip, kVision, kText };

struct Described {
  Kind kind;
  ModelFamily family;
};

json parse_root(const std::string& text, const std::string& source) {
  json root = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded() || !root.is_object()) bad(source, "not a JSON object");
  return root;
}

std::string not_ours(const std::string& type) {
  return "model_type '" + type + "' is not a CLIP or SigLIP model (clip, siglip)";
}

// Which model a config describes: a CLIPModel or SiglipModel nests both towers' configs; a
// tower's own config names itself in model_type (a config without one is taken as a CLIP vision
// tower, as before text). SigLIP 2's fixed-resolution checkpoints are SiglipModels
// (model_type "siglip", often without "architectures").
Described kind_of(const json& root, const std::string& source) {
  const std::string type = root.contains("model_type") && root["model_type"].is_string()
                               ? root["model_type"].get<std::string>()
                               : std::string();
  const ModelFamily family = type.starts_with("siglip") ? ModelFamily::kSiglip : ModelFamily::kClip;
  if (type == "clip" || type == "siglip" || root.contains("vision_config") ||
      root.contains("text_config")) {
    for (const char* key : {"vision_config", "text_config"}) {
      if (root.contains(key) && !root[key].is_null() && !root[key].is_object()) {
        bad(source, std::string("'") + key + "' is not an object");
      }
    }
    if (type != "clip" && type != "siglip" && !type.empty()) bad(source, not_ours(type));
    return {Kind::kClip, family};
  }
  if (type.empty() || type == "clip_vision_model") return {Kind::kVision, family};
  if (type == "clip_text_model") return {Kind::kText, family};
  if (type == "siglip_vision_model") return {Kind::kVision, family};
  if (type == "siglip_text_model") return {Kind::kText, family};
  bad(source, not_ours(type));
}

// The tower's own object inside a CLIPModel config (an empty object when left out).
const json& tower(const json& root, const char* key) {
  static const json kEmpty = json::object();
  return root.contains(key) && root[key].is_object() ? root[key] : kEmpty;
}

VisionConfig vision_from(const json& root, Described what, const std::string& source) {
  const Kind kind = what.kind;
  const json& v = kind == Kind::kClip ? tower(root, "vision_config") : root;
  VisionConfig c;
  c.vision_only = kind == Kind::kVision;
  c.family = what.family;
  if (c.family == ModelFamily::kSiglip) {
    // SiglipVisionConfig's defaults; SigLIP has no projection (its head's output is the
    // embedding).
    c.patch_size = 16;
    c.hidden_act = HiddenAct::kGeluTanh;
    c.layer_norm_eps = 1e-6f;
    c.projection_dim = 0;
  }
  c.hidden_size = read_int(v, "hidden_size", c.hidden_size, source);
  c.intermediate_size = read_int(v, "intermediate_size", c.intermediate_size, source);
  c.num_hidden_layers = read_int(v, "num_hidden_layers", c.num_hidden_layers, source, 1024);
  c.num_attention_heads = read_int(v, "num_attention_heads", c.num_attention_heads, source);
  c.num_channels = read_int(v, "num_channels", c.num_channels, source);
  c.image_size = read_int(v, "image_size", c.image_size, source, 16384);
  c.patch_size = read_int(v, "patch_size", c.patch_size, source, 16384);
  if (c.family == ModelFamily::kClip) {
    c.projection_dim =
        read_int(kind == Kind::kClip ? root : v, "projection_dim", c.projection_dim, source);
  }
  c.hidden_act = read_act(v, c.hidden_act, source);
  c.layer_norm_eps = read_eps(v, c.layer_norm_eps, source);
  if (c.num_channels != 3) {
    throw Error(ErrorCode::kUnsupported, source + ": only 3-channel (RGB) towers are supported");
  }
  if (c.hidden_size % c.num_attention_heads != 0) {
    bad(source, "hidden_size is not a multiple of num_attention_heads");
  }
  if (c.patch_size > c.image_size) bad(source, "patch_size is larger than image_size");
  return c;
}

TextConfig text_from(const json& root, Described what, const std::string& source) {
  const Kind kind = what.kind;
  const json& t = kind == Kind::kClip ? tower(root, "text_config") : root;
  TextConfig c;
  c.text_only = kind == Kind::kText;
  c.family = what.family;
  if (c.family == ModelFamily::kSiglip) {
    // SiglipTextConfig's defaults: no projection (its head is part of the tower), no end token
    // search (the last position is pooled).
    c.vocab_size = 32000;
    c.hidden_size = 768;
    c.intermediate_size = 3072;
    c.num_attention_heads = 12;
    c.max_position_embeddings = 64;
    c.hidden_act = HiddenAct::kGeluTanh;
    c.layer_norm_eps = 1e-6f;
    c.projection_dim = 0;
  }
  c.vocab_size = read_int(t, "vocab_size", c.vocab_size, source, 1 << 24);
  c.hidden_size = read_int(t, "hidden_size", c.hidden_size, source);
  c.intermediate_size = read_int(t, "intermediate_size", c.intermediate_size, source);
  c.num_hidden_layers = read_int(t, "num_hidden_layers", c.num_hidden_layers, source, 1024);
  c.num_attention_heads = read_int(t, "num_attention_heads", c.num_attention_heads, source);
  c.max_position_embeddings =
      read_int(t, "max_position_embeddings", c.max_position_embeddings, source, 1 << 16);
  if (c.family == ModelFamily::kClip) {
    c.projection_dim =
        read_int(kind == Kind::kClip ? root : t, "projection_dim", c.projection_dim, source);
  }
  c.eos_token_id = read_int(t, "eos_token_id", c.eos_token_id, source, 1 << 24, 0);
  c.hidden_act = read_act(t, c.hidden_act, source);
  c.layer_norm_eps = read_eps(t, c.layer_norm_eps, source);
  if (c.hidden_size % c.num_attention_heads != 0) {
    bad(source, "text hidden_size is not a multiple of num_attention_heads");
  }
  if (c.max_position_embeddings < 2) bad(source, "max_position_embeddings must be at least 2");
  return c;
}

std::string read_text(const std::string& path) {
  const std::vector<uint8_t> bytes = io::read_file(path);
  return {bytes.begin(), bytes.end()};
}

}  // namespace

VisionConfig VisionConfig::parse(const std::string& text, const std::string& source) {
  const json root = parse_root(text, source);
  const Described what = kind_of(root, source);
  if (what.kind == Kind::kText) bad(source, "a text model has no vision tower");
  return vision_from(root, what, source);
}

TextConfig TextConfig::parse(const std::string& text, const std::string& source) {
  const json root = parse_root(text, source);
  const Described what = kind_of(root, source);
  if (what.kind == Kind::kVision) bad(source, "a vision model has no text tower");
  return text_from(root, what, source);
}

int64_t VisionConfig::parameter_count() const {
  const int64_t d = hidden_size, f = intermediate_size;
  const int64_t per_layer = 4 * (d * d + d) + (d * f + f) + (f * d + d) + 4 * d;
  const int64_t patches = int64_t{num_channels} * patch_size * patch_size * d;
  const int64_t encoder = int64_t{num_positions()} * d + num_hidden_layers * per_layer + 2 * d;
  if (family == ModelFamily::kSiglip) {
    // The patch bias; the pooling head: probe, stacked q/k/v and output projection, its layer
    // norm and MLP.
    const int64_t head = d + 4 * (d * d + d) + 2 * d + (d * f + f) + (f * d + d);
    return patches + d + encoder + head;
  }
  return d /* class token */ + patches + 2 * d /* pre-LN */ + encoder + int64_t{projection_dim} * d;
}

int64_t TextConfig::parameter_count() const {
  const int64_t d = hidden_size, f = intermediate_size;
  const int64_t per_layer = 4 * (d * d + d) + (d * f + f) + (f * d + d) + 4 * d;
  const int64_t head = family == ModelFamily::kSiglip ? d * d + d : 0;  // SigLIP's Linear head.
  return int64_t{vocab_size} * d + int64_t{max_position_embeddings} * d +
         num_hidden_layers * per_layer + 2 * d /* final LN */ + int64_t{projection_dim} * d + head;
}

const char* model_family_name(ModelFamily family) {
  return family == ModelFamily::kSiglip ? "siglip" : "clip";
}

const char* checkpoint_format_name(CheckpointFormat format) {
  return format == CheckpointFormat::kOpenClip ? "open_clip" : "transformers";
}

int ModelConfig::dimension() const {
  if (vision) return vision->projection_dim > 0 ? vision->projection_dim : vision->hidden_size;
  if (text) return text->projection_dim > 0 ? text->projection_dim : text->hidden_size;
  return 0;
}

ModelConfig ModelConfig::read(const std::string& directory) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(directory, ec)) {
    throw Error(ErrorCode::kModelInvalid,
                "model directory '" + directory +
                    "' does not exist (expected config.json, model.safetensors and, for images, "
                    "preprocessor_config.json, e.g. a download of openai/clip-vit-base-patch32)");
  }
  auto require = [&](const std::string& name) {
    std::string path = directory + "/" + name;
    if (!fs::exists(path, ec)) {
      throw Error(ErrorCode::kModelInvalid, "model directory '" + directory + "' has no " + name);
    }
    return path;
  };
  ModelConfig config;
  config.directory = directory;
  if (!fs::exists(directory + "/config.json", ec) &&
      fs::exists(directory + "/open_clip_config.json", ec)) {
    model::read_open_clip_config(directory, config);
    return config;
  }
  const std::string config_path = require("config.json");
  const json root = parse_root(read_text(config_path), config_path);
  const Described what = kind_of(root, config_path);
  const Kind kind = what.kind;
  config.family = what.family;
  const std::string weights = require("model.safetensors");
  if (kind != Kind::kText) {
    config.vision = vision_from(root, what, config_path);
    const std::string pre_path = require("preprocessor_config.json");
    config.preprocess = PreprocessConfig::parse(read_text(pre_path), pre_path);
    const PreprocessConfig& pre = *config.preprocess;
    if (pre.output_height() != config.vision->image_size ||
        pre.output_width() != config.vision->image_size) {
      throw Error(ErrorCode::kModelInvalid,
                  pre_path + ": images are cropped to " + std::to_string(pre.output_width()) + "x" +
                      std::to_string(pre.output_height()) + " but the model expects " +
                      std::to_string(config.vision->image_size) + "x" +
                      std::to_string(config.vision->image_size));
    }
  }
  if (kind != Kind::kVision) {
    config.text = text_from(root, what, config_path);
    config.text_unavailable = text::Tokenizer::missing_files(directory, config.family);
  }
  if (config.family == ModelFamily::kSiglip && config.vision && config.text &&
      config.vision->hidden_size != config.text->hidden_size) {
    // SiglipModel (transformers 4.40) compares the towers' outputs directly, without projections.
    throw Error(ErrorCode::kUnsupported, config_path + ": the vision tower's hidden_size (" +
                                             std::to_string(config.vision->hidden_size) +
                                             ") differs from the text tower's (" +
                                             std::to_string(config.text->hidden_size) +
                                             "); SigLIP without projections needs them equal");
  }
  // Projections a tower's own checkpoint may lack (a plain CLIPVisionModel or CLIPTextModel):
  // its pooled output is then the embedding.
  if (kind != Kind::kClip && config.family == ModelFamily::kClip) {
    const model::SafetensorsFile file(weights);
    if (config.vision && file.find("visual_projection.weight") == nullptr) {
      config.vision->projection_dim = 0;
    }
    if (config.text && file.find("text_projection.weight") == nullptr) {
      config.text->projection_dim = 0;
    }
  }
  return config;
}

}  // namespace clipembed
