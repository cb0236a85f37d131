// open_clip_config.json as open_clip (v2.24 to v2.32) and laion's hub repositories write it:
// {"model_cfg": {embed_dim, quick_gelu, vision_cfg, text_cfg}, "preprocess_cfg": {...}}, with
// open_clip's dataclass defaults for the keys left out. Only the plain ViT + text transformer
// CLIP is read; a setting that would change the computation in a way clipembed does not
// implement (timm or Hugging Face towers, attentional pooling, layer scale, ...) is refused by
// name rather than ignored, because ignoring it would give wrong vectors.
#include "model/open_clip_config.h"

#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "clipembed/error.h"
#include "io/file.h"
#include "text/tokenizer.h"

namespace clipembed::model {
namespace {

using nlohmann::json;

[[noreturn]] void bad(const std::string& source, const std::string& what) {
  throw Error(ErrorCode::kModelInvalid, source + ": " + what);
}

// Keys that change nothing at inference (training settings, outputs not used here) or that are
// checked below; every other key must be absent, null or false.
const std::set<std::string> kVisionKeys = {
    "image_size", "layers",        "width",         "head_width", "mlp_ratio",
    "patch_size", "patch_dropout", "output_tokens", "pool_type",  "pos_embed_type"};
const std::set<std::string> kTextKeys = {"context_length", "vocab_size", "width",
                                         "heads",          "layers",     "mlp_ratio",
                                         "output_tokens",  "pool_type",  "pad_id"};
const std::set<std::string> kModelKeys = {"embed_dim", "quick_gelu", "vision_cfg",
                                          "text_cfg",  "cast_dtype", "custom_text"};
const std::set<std::string> kPreprocessKeys = {"mean", "std",  "interpolation", "resize_mode",
                                               "size", "mode", "fill_color",    "image_size"};

bool unset(const json& v) { return v.is_null() || (v.is_boolean() && !v.get<bool>()); }

void refuse_unknown(const json& j, const std::set<std::string>& known, const std::string& where,
                    const std::string& source) {
  for (const auto& [key, value] : j.items()) {
    if (known.count(key) == 0 && !unset(value)) {
      throw Error(ErrorCode::kUnsupported, source + ": " + where + "." + key +
                                               " is not supported (only open_clip's plain ViT "
                                               "and text transformer CLIP)");
    }
  }
}

const json& object_at(const json& j, const char* key, const std::string& source) {
  static const json kEmpty = json::object();
  if (!j.contains(key) || j[key].is_null()) return kEmpty;
  if (!j[key].is_object()) bad(source, std::string("'") + key + "' is not an object");
  return j[key];
}

int int_at(const json& j, const char* key, int fallback, const std::string& source,
           int max_value = 1 << 20) {
  if (!j.contains(key) || j[key].is_null()) return fallback;
  const json& v = j[key];
  if (!v.is_number_integer() || v.get<int64_t>() < 1 || v.get<int64_t>() > max_value) {
    bad(source,
        std::string("'") + key + "' must be an integer in [1, " + std::to_string(max_value) + "]");
  }
  return v.get<int>();
}

// int(width * mlp_ratio), as open_clip sizes its MLPs (ViT-g and bigG use ratios like 4.3637).
int mlp_width(const json& j, int width, const std::string& source) {
  double ratio = 4.0;
  if (j.contains("mlp_ratio") && !j["mlp_ratio"].is_null()) {
    if (!j["mlp_ratio"].is_number() || !(j["mlp_ratio"].get<double>() > 0.0)) {
      bad(source, "'mlp_ratio' must be a positive number");
    }
    ratio = j["mlp_ratio"].get<double>();
  }
  return static_cast<int>(width * ratio);
}

// image_size is an int or [height, width]; only square towers are implemented.
int square_size(const json& j, const char* key, int fallback, const std::string& source) {
  if (!j.contains(key) || j[key].is_null()) return fallback;
  const json& v = j[key];
  if (v.is_array()) {
    if (v.size() != 2 || v[0] != v[1]) {
      throw Error(ErrorCode::kUnsupported, source + ": only square image sizes are supported");
    }
    json one = {{key, v[0]}};
    return int_at(one, key, fallback, source, 16384);
  }
  return int_at(j, key, fallback, source, 16384);
}

void expect_value(const json& j, const char* key, const char* allowed, const std::string& where,
                  const std::string& source) {
  if (!j.contains(key) || j[key].is_null()) return;
  if (!j[key].is_string() || j[key].get<std::string>() != allowed) {
    throw Error(ErrorCode::kUnsupported, source + ": " + where + "." + key + " " + j[key].dump() +
                                             " is not supported (only \"" + allowed + "\")");
  }
}

std::array<float, 3> triple(const json& j, const char* key, std::array<float, 3> fallback,
                            const std::string& source) {
  if (!j.contains(key) || j[key].is_null()) return fallback;
  const json& v = j[key];
  std::array<float, 3> out{};
  if (v.is_number()) return {v.get<float>(), v.get<float>(), v.get<float>()};
  if (!v.is_array() || v.size() != 3) bad(source, std::string("'") + key + "' must have 3 values");
  for (size_t i = 0; i < 3; ++i) {
    if (!v[i].is_number()) bad(source, std::string("'") + key + "' must hold numbers");
    out[i] = v[i].get<float>();
  }
  return out;
}

PreprocessConfig preprocess_from(const json& p, int image_size, const std::string& source) {
  refuse_unknown(p, kPreprocessKeys, "preprocess_cfg", source);
  PreprocessConfig c;
  c.style = PreprocessStyle::kOpenClip;
  c.mean = triple(p, "mean", c.mean, source);
  c.std = triple(p, "std", c.std, source);
  for (float s : c.std) {
    if (!(s > 0.0f)) bad(source, "'std' values must be positive");
  }
  const int size = square_size(p, "size", image_size, source);
  if (size != image_size) {
    bad(source, "preprocess_cfg.size " + std::to_string(size) + " differs from the tower's " +
                    std::to_string(image_size));
  }
  expect_value(p, "mode", "RGB", "preprocess_cfg", source);
  const std::string interpolation = p.value("interpolation", std::string("bicubic"));
  if (interpolation == "bicubic") {
    c.resample = 3;
  } else if (interpolation == "bilinear") {
    c.resample = 2;
  } else {
    throw Error(ErrorCode::kUnsupported, source + ": interpolation '" + interpolation +
                                             "' is not supported (bicubic, bilinear)");
  }
  const std::string mode = p.value("resize_mode", std::string("shortest"));
  if (mode == "shortest") {
    c.shortest_edge = size;
    c.crop_height = c.crop_width = size;
  } else if (mode == "squash") {
    c.shortest_edge = 0;
    c.resize_height = c.resize_width = size;
    c.do_center_crop = false;
  } else {
    throw Error(ErrorCode::kUnsupported,
                source + ": resize_mode '" + mode + "' is not supported (shortest, squash)");
  }
  return c;
}

}  // namespace

void read_open_clip_config(const std::string& directory, ModelConfig& config) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const std::string source = directory + "/open_clip_config.json";
  if (!fs::exists(directory + "/open_clip_model.safetensors", ec)) {
    if (fs::exists(directory + "/open_clip_pytorch_model.bin", ec)) {
      throw Error(ErrorCode::kUnsupported,
                  "model directory '" + directory +
                      "' has only open_clip_pytorch_model.bin (a torch pickle, which clipembed "
                      "does not load): save the same state dict with "
                      "safetensors.torch.save_file(..., 'open_clip_model.safetensors')");
    }
    throw Error(ErrorCode::kModelInvalid,
                "model directory '" + directory + "' has no open_clip_model.safetensors");
  }
  const std::vector<uint8_t> bytes = io::read_file(source);
  const json root = json::parse(bytes.begin(), bytes.end(), nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded() || !root.is_object()) bad(source, "not a JSON object");
  const json& model = object_at(root, "model_cfg", source);
  if (model.empty()) bad(source, "has no model_cfg");
  refuse_unknown(model, kModelKeys, "model_cfg", source);
  const json& v = object_at(model, "vision_cfg", source);
  const json& t = object_at(model, "text_cfg", source);
  refuse_unknown(v, kVisionKeys, "vision_cfg", source);
  refuse_unknown(t, kTextKeys, "text_cfg", source);
  expect_value(v, "pool_type", "tok", "vision_cfg", source);
  expect_value(v, "pos_embed_type", "learnable", "vision_cfg", source);
  expect_value(t, "pool_type", "argmax", "text_cfg", source);
  if (t.contains("pad_id") && !t["pad_id"].is_null() && t["pad_id"] != 0) {
    throw Error(ErrorCode::kUnsupported,
                source + ": text_cfg.pad_id other than 0 is not supported");
  }
  const bool quick_gelu = model.contains("quick_gelu") && model["quick_gelu"].is_boolean() &&
                          model["quick_gelu"].get<bool>();
  // open_clip's nn.GELU is the exact (erf) GELU; OpenAI-trained weights set quick_gelu.
  const HiddenAct act = quick_gelu ? HiddenAct::kQuickGelu : HiddenAct::kGelu;
  const int embed_dim = int_at(model, "embed_dim", 512, source);

  VisionConfig vision;
  vision.hidden_size = int_at(v, "width", 768, source);
  const int head_width = int_at(v, "head_width", 64, source);
  if (vision.hidden_size % head_width != 0)
    bad(source, "vision width is not a multiple of head_width");
  vision.num_attention_heads = vision.hidden_size / head_width;
  vision.num_hidden_layers = int_at(v, "layers", 12, source, 1024);
  vision.intermediate_size = mlp_width(v, vision.hidden_size, source);
  vision.patch_size = int_at(v, "patch_size", 16, source, 16384);
  vision.image_size = square_size(v, "image_size", 224, source);
  vision.projection_dim = embed_dim;
  vision.hidden_act = act;
  if (vision.patch_size > vision.image_size) bad(source, "patch_size is larger than image_size");

  TextConfig text;
  text.hidden_size = int_at(t, "width", 512, source);
  text.num_attention_heads = int_at(t, "heads", 8, source);
  text.num_hidden_layers = int_at(t, "layers", 12, source, 1024);
  text.intermediate_size = mlp_width(t, text.hidden_size, source);
  text.vocab_size = int_at(t, "vocab_size", 49408, source, 1 << 24);
  text.max_position_embeddings = int_at(t, "context_length", 77, source, 1 << 16);
  text.projection_dim = embed_dim;
  text.hidden_act = act;
  // open_clip pools at argmax(ids): ids are padded with 0, so that is the first end token.
  text.eos_token_id = 49407;
  if (text.hidden_size % text.num_attention_heads != 0) {
    bad(source, "text width is not a multiple of heads");
  }
  if (text.max_position_embeddings < 2) bad(source, "context_length must be at least 2");

  config.format = CheckpointFormat::kOpenClip;
  config.family = ModelFamily::kClip;
  config.config_file = "open_clip_config.json";
  config.weights_file = "open_clip_model.safetensors";
  config.preprocess =
      preprocess_from(object_at(root, "preprocess_cfg", source), vision.image_size, source);
  config.vision = vision;
  config.text = text;
  config.text_unavailable =
      text::Tokenizer::missing_files(directory, ModelFamily::kClip, CheckpointFormat::kOpenClip);
}

}  // namespace clipembed::model
