#include <nlohmann/json.hpp>

#include "clipembed/error.h"
#include "clipembed/model.h"

namespace clipembed {
namespace {

using nlohmann::json;

[[noreturn]] void bad(const std::string& source, const std::string& what) {
  throw Error(ErrorCode::kModelInvalid, source + ": " + what);
}

int read_int(const json& j, const char* key, int fallback, const std::string& source,
             int max_value = 1 << 20) {
  if (!j.contains(key) || j[key].is_null()) return fallback;
  const json& v = j[key];
  if (!v.is_number_integer() || v.get<int64_t>() <= 0 || v.get<int64_t>() > max_value) {
    bad(source, std::string("'") + key + "' must be a positive integer");
  }
  return v.get<int>();
}

}  // namespace

VisionConfig VisionConfig::parse(const std::string& text, const std::string& source) {
  json root = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded() || !root.is_object()) bad(source, "not a JSON object");

  // A CLIPModel config nests the tower in vision_config and keeps projection_dim at the top;
  // CLIPVisionModel(WithProjection) configs are the vision config itself.
  const bool nested = root.contains("vision_config");
  if (nested && !root["vision_config"].is_object()) bad(source, "'vision_config' is not an object");
  const json& v = nested ? root["vision_config"] : root;
  if (!nested && root.contains("model_type") && root["model_type"].is_string()) {
    const std::string type = root["model_type"].get<std::string>();
    if (type != "clip_vision_model" && type != "clip") {
      bad(source, "model_type '" + type + "' is not a CLIP vision model");
    }
  }

  VisionConfig c;
  c.vision_only = !nested;
  c.hidden_size = read_int(v, "hidden_size", c.hidden_size, source);
  c.intermediate_size = read_int(v, "intermediate_size", c.intermediate_size, source);
  c.num_hidden_layers = read_int(v, "num_hidden_layers", c.num_hidden_layers, source, 1024);
  c.num_attention_heads = read_int(v, "num_attention_heads", c.num_attention_heads, source);
  c.num_channels = read_int(v, "num_channels", c.num_channels, source);
  c.image_size = read_int(v, "image_size", c.image_size, source, 16384);
  c.patch_size = read_int(v, "patch_size", c.patch_size, source, 16384);
  c.projection_dim = read_int(nested ? root : v, "projection_dim", c.projection_dim, source);
  if (v.contains("hidden_act") && !v["hidden_act"].is_null()) {
    if (!v["hidden_act"].is_string()) bad(source, "'hidden_act' must be a string");
    const std::string act = v["hidden_act"].get<std::string>();
    if (act == "quick_gelu") {
      c.hidden_act = HiddenAct::kQuickGelu;
    } else if (act == "gelu") {
      c.hidden_act = HiddenAct::kGelu;
    } else {
      throw Error(ErrorCode::kUnsupported,
                  source + ": hidden_act '" + act + "' is not supported (quick_gelu, gelu)");
    }
  }
  if (v.contains("layer_norm_eps") && !v["layer_norm_eps"].is_null()) {
    if (!v["layer_norm_eps"].is_number() || !(v["layer_norm_eps"].get<double>() > 0.0)) {
      bad(source, "'layer_norm_eps' must be a positive number");
    }
    c.layer_norm_eps = v["layer_norm_eps"].get<float>();
  }
  if (c.num_channels != 3) {
    throw Error(ErrorCode::kUnsupported, source + ": only 3-channel (RGB) towers are supported");
  }
  if (c.hidden_size % c.num_attention_heads != 0) {
    bad(source, "hidden_size is not a multiple of num_attention_heads");
  }
  if (c.patch_size > c.image_size) bad(source, "patch_size is larger than image_size");
  return c;
}

int64_t VisionConfig::parameter_count() const {
  const int64_t d = hidden_size, f = intermediate_size;
  const int64_t per_layer = 4 * (d * d + d) + (d * f + f) + (f * d + d) + 4 * d;
  const int64_t embeddings =
      d + int64_t{num_channels} * patch_size * patch_size * d + int64_t{num_positions()} * d;
  return embeddings + 2 * d /* pre-LN */ + num_hidden_layers * per_layer + 2 * d /* post-LN */ +
         int64_t{projection_dim} * d;
}

}  // namespace clipembed
