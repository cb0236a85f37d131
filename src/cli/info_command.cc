#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "clipembed/error.h"
#include "clipembed/model.h"
#include "clipembed/pool.h"

namespace clipembed::cli {

std::string model_argument(const std::vector<std::string>& args, size_t* i) {
  if (args[*i] == "--model" && *i + 1 < args.size()) return args[++*i];
  return {};
}

bool precision_argument(const char* command, const std::string& value, Precision* out) {
  try {
    *out = parse_precision(value);
    return true;
  } catch (const Error& e) {
    std::fprintf(stderr, "clipembed %s: %s\n", command, e.what());
    return false;
  }
}

std::string default_model() {
  const char* env = std::getenv("CLIPEMBED_MODEL");
  return env != nullptr ? env : "";
}

int report_error(const char* command, const Error& error) {
  std::fprintf(stderr, "clipembed %s: %s: %s\n", command,
               std::string(code_name(error.code())).c_str(), error.what());
  return kExitUsage;
}

int info_command(const std::vector<std::string>& args) {
  std::string ref = default_model();
  for (size_t i = 0; i < args.size(); ++i) {
    std::string m = model_argument(args, &i);
    if (m.empty()) {
      std::fprintf(stderr, "clipembed info: unexpected argument '%s'\n", args[i].c_str());
      return kExitUsage;
    }
    ref = m;
  }
  if (ref.empty()) {
    std::fprintf(stderr, "usage: clipembed info --model DIR|REPO_ID\n");
    return kExitUsage;
  }
  try {
    const std::string dir = locate_model(ref);
    auto model = ClipVisionModel::load(dir);
    const VisionConfig& c = model->vision_config();
    const PreprocessConfig& p = model->preprocess_config();
    const MemoryEstimate one = estimate_memory(c, 1), eight = estimate_memory(c, 8);
    std::printf("model:          %s\n", ref.c_str());
    std::printf("directory:      %s\n", dir.c_str());
    std::printf("architecture:   ViT, %d layers, width %d, %d heads, MLP %d, patch %d, image %d\n",
                c.num_hidden_layers, c.hidden_size, c.num_attention_heads, c.intermediate_size,
                c.patch_size, c.image_size);
    std::printf("activation:     %s\n", c.hidden_act == HiddenAct::kGelu ? "gelu" : "quick_gelu");
    std::printf("dimension:      %d%s\n", model->dimension(),
                c.projection_dim > 0 ? " (visual projection)" : " (pooled output)");
    std::printf("parameters:     %lld (vision tower)\n",
                static_cast<long long>(c.parameter_count()));
    std::printf("dtype:          float32 compute (weights stored as %s)\n",
                model->weights_dtype().c_str());
    std::printf(
        "preprocessing:  shortest edge %d, bicubic, center crop %dx%d, mean %.4f/%.4f/%.4f, "
        "std %.4f/%.4f/%.4f\n",
        p.shortest_edge, p.crop_width, p.crop_height, p.mean[0], p.mean[1], p.mean[2], p.std[0],
        p.std[1], p.std[2]);
    std::printf(
        "memory:         weights %.1f MB; per worker %.1f MB at batch 1, %.1f MB at batch 8\n",
        one.weight_bytes / 1e6, one.activation_bytes_per_worker / 1e6,
        eight.activation_bytes_per_worker / 1e6);
    return kExitOk;
  } catch (const Error& e) {
    return report_error("info", e);
  }
}

}  // namespace clipembed::cli
