// `clipembed info`: what a model is, what it computes and what it costs in memory.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "cli/options.h"
#include "clipembed/error.h"
#include "clipembed/hub.h"
#include "clipembed/model.h"
#include "clipembed/pool.h"
#include "clipembed/preprocess.h"
#include "clipembed/version.h"

namespace clipembed::cli {
namespace {

const char* act_name(HiddenAct act) {
  switch (act) {
    case HiddenAct::kGelu:
      return "gelu";
    case HiddenAct::kGeluTanh:
      return "gelu_pytorch_tanh";
    case HiddenAct::kQuickGelu:
      break;
  }
  return "quick_gelu";
}

const char* filter_name(int resample) { return resample == 2 ? "bilinear" : "bicubic"; }

// How the model turns an image into the pixels it sees.
std::string preprocessing_of(const PreprocessConfig& p) {
  char line[256];
  if (p.do_center_crop) {
    std::snprintf(line, sizeof line, "shortest edge %d, %s, center crop %dx%d", p.shortest_edge,
                  filter_name(p.resample), p.crop_width, p.crop_height);
  } else {
    std::snprintf(line, sizeof line, "resize to %dx%d (aspect not kept), %s", p.output_width(),
                  p.output_height(), filter_name(p.resample));
  }
  return line;
}

int run_info(const std::string& ref) {
  try {
    const ModelConfig config = ModelConfig::read(locate_model(ref));
    auto model = ClipModel::load(config);  // Checks the weights, and tells their dtype.
    const MemoryEstimate one = estimate_memory(config, 1), eight = estimate_memory(config, 8);
    const MemoryEstimate int8 = estimate_memory(config, 8, Precision::kInt8);
    const MemoryEstimate bf16 = estimate_memory(config, 8, Precision::kBf16);
    const ModelCapabilities caps = model->capabilities();
    std::printf("model:          %s\n", ref.c_str());
    std::printf("directory:      %s\n", config.directory.c_str());
    std::printf("format:         %s (%s + %s)\n", caps.format.c_str(), config.config_file.c_str(),
                config.weights_file.c_str());
    std::printf("family:         %s (zero-shot: %s%s)\n", caps.family.c_str(),
                zero_shot_rule_name(caps.zero_shot),
                caps.zero_shot == ZeroShotRule::kSigmoid
                    ? " of each label's logit, independent probabilities"
                    : " over the labels");
    if (config.vision) {
      const VisionConfig& c = *config.vision;
      const PreprocessConfig& p = *config.preprocess;
      std::printf(
          "vision tower:   ViT, %d layers, width %d, %d heads, MLP %d, patch %d, image %d, "
          "%s, %s, %lld parameters\n",
          c.num_hidden_layers, c.hidden_size, c.num_attention_heads, c.intermediate_size,
          c.patch_size, c.image_size, act_name(c.hidden_act),
          c.family == ModelFamily::kSiglip ? "attention-pooling head" : "class token",
          static_cast<long long>(c.parameter_count()));
      std::printf("preprocessing:  %s, mean %.4f/%.4f/%.4f, std %.4f/%.4f/%.4f\n",
                  preprocessing_of(p).c_str(), p.mean[0], p.mean[1], p.mean[2], p.std[0], p.std[1],
                  p.std[2]);
    } else {
      std::printf("vision tower:   none\n");
    }
    if (config.text) {
      const TextConfig& t = *config.text;
      std::printf(
          "text tower:     %d layers, width %d, %d heads, MLP %d, vocabulary %d, context "
          "%d, %s, %lld parameters%s\n",
          t.num_hidden_layers, t.hidden_size, t.num_attention_heads, t.intermediate_size,
          t.vocab_size, t.max_position_embeddings, act_name(t.hidden_act),
          static_cast<long long>(t.parameter_count()),
          config.has_text() ? "" : " (no tokenizer files: unusable)");
    } else {
      std::printf("text tower:     none\n");
    }
    std::printf("dimension:      %d\n", config.dimension());
    std::printf("dtype:          float32 compute (weights stored as %s)\n",
                model->weights_dtype().c_str());
    std::printf("precisions:     fp32 and int8 (%s kernels), bf16 (%s)\n", kernel_isa(),
                std::strcmp(bf16_kernel(), "scalar") == 0
                    ? "scalar kernels, without AVX512_BF16 here: correct but many times slower"
                    : bf16_kernel());
    std::printf(
        "memory:         fp32 weights %.1f MB (int8 %.1f MB, bf16 %.1f MB); per worker %.1f MB "
        "at batch 1, %.1f MB at batch 8\n",
        one.weight_bytes / 1e6, int8.weight_bytes / 1e6, bf16.weight_bytes / 1e6,
        one.activation_bytes_per_worker / 1e6, eight.activation_bytes_per_worker / 1e6);
    return kExitOk;
  } catch (const Error& e) {
    return report_error("info", e);
  }
}

}  // namespace

CommandRun add_info_command(CLI::App& app) {
  auto ref = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand("info", "describe a model");
  add_model_option(*cmd, *ref);
  return [ref] { return run_info(*ref); };
}

}  // namespace clipembed::cli
