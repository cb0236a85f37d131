// `clipembed classify`: zero-shot labels for images, one JSON line each:
//   {"path": ..., "labels": [{"label": ..., "score": ...}, ...]}  sorted by score
// Through the service core's one orchestration (service/zero_shot.h): scores under the model's
// rule (for CLIP transformers' logits_per_image.softmax(-1): a softmax over the labels of
// exp(logit_scale) * cosine(image, "template with the label"); for SigLIP the sigmoid of each
// logit, plus logit_bias). Label texts are embedded once.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/embed_pipeline.h"
#include "cli/input_list.h"
#include "cli/options.h"
#include "cli/text_source.h"
#include "clipembed/error.h"
#include "clipembed/hub.h"
#include "clipembed/model.h"
#include "io/json_text.h"
#include "service/zero_shot.h"

namespace clipembed::cli {
namespace {

struct ClassifyArgs {
  std::string model, template_text;  // "" takes the model family's default template.
  std::vector<std::string> labels, labels_from, arguments;
  size_t top_k = 0;
  int threads = 0;
  Precision precision = Precision::kF32;
  InputOptions input_options;
  InputLimits input;
};

int run_classify(const ClassifyArgs& a) {
  std::vector<std::string> labels;
  std::shared_ptr<const ClipModel> model;
  std::vector<Embedding> label_vectors;
  ModelCapabilities capabilities;
  try {
    TextSource source(a.labels, a.labels_from);
    for (std::optional<std::string> l = source.next(); l; l = source.next()) {
      if (!l->empty()) labels.push_back(std::move(*l));
    }
    if (labels.empty()) {
      std::fputs("clipembed classify: no labels (--labels A,B,... or --labels-from FILE)\n",
                 stderr);
      return kExitUsage;
    }
    if (a.arguments.empty() && a.input_options.files_from.empty()) {
      std::fputs("clipembed classify: no images\n", stderr);
      return kExitUsage;
    }
    start_runtime(a.threads);
    model = ClipModel::load(locate_model(a.model), {.input = a.input, .precision = a.precision});
    if (!model->has_vision()) {
      throw Error(ErrorCode::kUnsupportedModality, a.model + " has no vision tower");
    }
    capabilities = model->capabilities();
    // The scores' rule, once: SigLIP's are independent probabilities that need not sum to 1.
    std::fprintf(stderr, "clipembed classify: %s model: scores are %s\n",
                 capabilities.family.c_str(),
                 capabilities.zero_shot == ZeroShotRule::kSigmoid
                     ? "each label's own probability (sigmoid of its logit; they need not sum to 1)"
                     : "a softmax over the labels (they sum to 1)");
    label_vectors =
        model->embed_texts(service::label_prompts(labels, a.template_text, capabilities));
  } catch (const Error& e) {
    return report_error("classify", e);
  }
  InputSource inputs(a.arguments, a.input_options);
  size_t failed = 0;
  auto emit = [&](const PipelineResult& r) {
    std::string line = "{\"path\": " + io::json_string(r.input);
    if (r.embedding == nullptr) {
      ++failed;
      line += ", \"error\": {\"code\": " + io::json_string(code_name(r.code)) +
              ", \"message\": " + io::json_string(r.message) + "}}";
    } else {
      line += ", \"labels\": [";
      const std::vector<LabelScore> ranked = service::rank_labels_for(
          capabilities, {r.embedding, static_cast<size_t>(capabilities.dimension)}, label_vectors,
          labels, a.top_k);
      for (size_t i = 0; i < ranked.size(); ++i) {
        if (i != 0) line += ", ";
        line += "{\"label\": " + io::json_string(ranked[i].label) + ", \"score\": ";
        io::append_json_float(line, ranked[i].score);
        line += '}';
      }
      line += "]}";
    }
    std::printf("%s\n", line.c_str());
  };
  try {
    run_pipeline(
        *model, [&] { return inputs.next(); }, {.batch_size = 16, .normalize = false}, emit,
        [] { std::fflush(stdout); });
  } catch (const Error& e) {
    return report_error("classify", e);
  }
  return failed > 0 ? kExitSomeFailed : kExitOk;
}

}  // namespace

CommandRun add_classify_command(CLI::App& app) {
  auto args = std::make_shared<ClassifyArgs>();
  CLI::App* cmd = app.add_subcommand(
      "classify",
      "zero-shot labels for images: scores of the image-text logits under the model's rule "
      "(a softmax for CLIP, a sigmoid per label for SigLIP)");
  add_model_option(*cmd, args->model);
  cmd->add_option("images", args->arguments, "image files, directories, URLs, or - for a list");
  cmd->add_option("--labels", args->labels, "labels, comma-separated")
      ->delimiter(',')
      ->allow_extra_args(false);
  cmd->add_option("--labels-from", args->labels_from, "read one label per line")
      ->allow_extra_args(false);
  cmd->add_option(
      "--template", args->template_text,
      "the text each label is put in ({} marks the label; default: the model "
      "family's, \"a photo of a {}.\" for CLIP, \"This is a photo of {}.\" for SigLIP)");
  cmd->add_option("--top-k", args->top_k, "print the K best labels (default: all)")
      ->check(CLI::Range(size_t{1}, size_t{1} << 20));
  cmd->add_flag("-r,--recursive", args->input_options.recursive,
                "descend into subdirectories of DIR arguments");
  cmd->add_option("--files-from", args->input_options.files_from,
                  "read one path or URL per line (- for stdin)")
      ->allow_extra_args(false);
  add_threads_option(*cmd, args->threads);
  add_precision_option(*cmd, args->precision);
  add_input_options(*cmd, args->input);
  return [args] { return run_classify(*args); };
}

}  // namespace clipembed::cli
