// `clipembed tokenize` and `clipembed embed-text`: the text tower from the command line.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <deque>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/embed_output.h"
#include "cli/options.h"
#include "cli/text_source.h"
#include "clipembed/error.h"
#include "clipembed/hub.h"
#include "clipembed/model.h"
#include "io/json_text.h"

namespace clipembed::cli {
namespace {

// Texts per forward pass of embed-text.
constexpr size_t kTextBatch = 64;

struct TextArgs {
  std::string model;
  std::vector<std::string> texts, texts_from;
  bool normalize = false;
  int threads = 0;
  Precision precision = Precision::kF32;
  std::string output_path, output_format;
};

void add_text_inputs(CLI::App& cmd, TextArgs& a) {
  add_model_option(cmd, a.model);
  cmd.add_option("texts", a.texts, "texts (quote each one)");
  cmd.add_option("--texts-from", a.texts_from,
                 "read one text per line, or {\"text\": ...} per line of a .jsonl file (- for "
                 "stdin)")
      ->allow_extra_args(false);
  add_threads_option(cmd, a.threads);
}

std::shared_ptr<const ClipModel> load_text_model(const TextArgs& a) {
  start_runtime(a.threads);
  LoadOptions options{.input = {}, .precision = a.precision, .vision = false, .text = true};
  auto model = ClipModel::load(locate_model(a.model), options);
  // Asking once says why a model cannot take text (no text tower, no tokenizer files).
  model->tokenize("");
  return model;
}

int run_tokenize(const TextArgs& a) {
  std::shared_ptr<const ClipModel> model;
  try {
    model = load_text_model(a);
  } catch (const Error& e) {
    return report_error("tokenize", e);
  }
  size_t failed = 0;
  try {
    TextSource source(a.texts, a.texts_from);
    for (std::optional<std::string> text = source.next(); text; text = source.next()) {
      std::string line = "{\"text\": " + io::json_string(*text);
      try {
        const std::vector<int32_t> ids = model->tokenize(*text);
        line += ", \"ids\": [";
        for (size_t i = 0; i < ids.size(); ++i) line += (i ? ", " : "") + std::to_string(ids[i]);
        line += "]}";
      } catch (const Error& e) {
        ++failed;
        line += ", \"error\": {\"code\": " + io::json_string(code_name(e.code())) +
                ", \"message\": " + io::json_string(e.what()) + "}}";
      }
      std::printf("%s\n", line.c_str());
    }
  } catch (const Error& e) {
    return report_error("tokenize", e);
  }
  return failed > 0 ? kExitSomeFailed : kExitOk;
}

int run_embed_text(const TextArgs& a) {
  std::shared_ptr<const ClipModel> model;
  std::unique_ptr<EmbedOutput> output;
  try {
    model = load_text_model(a);
    output = make_embed_output(a.output_path, a.output_format, model->dimension(), nullptr,
                               {.key = "text", .rows_suffix = ".texts.txt"});
  } catch (const Error& e) {
    return report_error("embed-text", e);
  }
  const auto dim = static_cast<size_t>(model->dimension());
  size_t failed = 0;
  try {
    TextSource source(a.texts, a.texts_from);
    // The stream answers in input order, so the texts in flight wait in order beside it.
    std::deque<std::string> pending;
    model->embed_text_stream(
        [&]() -> std::optional<std::string> {
          std::optional<std::string> text = source.next();
          if (text) pending.push_back(*text);
          return text;
        },
        [&](size_t, const float* embedding, const Error* error) {
          const std::string text = std::move(pending.front());
          pending.pop_front();
          if (embedding != nullptr) {
            output->success(text, std::span<const float>(embedding, dim));
          } else {
            ++failed;
            output->failure(text, code_name(error->code()), error->what());
          }
        },
        {.batch_size = kTextBatch, .embed = {.normalize = a.normalize}}, [&] { output->flush(); });
  } catch (const Error& e) {
    return report_error("embed-text", e);
  }
  return failed > 0 ? kExitSomeFailed : kExitOk;
}

}  // namespace

CommandRun add_tokenize_command(CLI::App& app) {
  auto args = std::make_shared<TextArgs>();
  CLI::App* cmd = app.add_subcommand(
      "tokenize", "token ids of texts, one JSON line each, as the model's tokenizer gives them");
  add_text_inputs(*cmd, *args);
  return [args] { return run_tokenize(*args); };
}

CommandRun add_embed_text_command(CLI::App& app) {
  auto args = std::make_shared<TextArgs>();
  CLI::App* cmd = app.add_subcommand("embed-text", "one JSON line (or npy row) per text");
  add_text_inputs(*cmd, *args);
  add_precision_option(*cmd, args->precision);
  cmd->add_flag("--normalize", args->normalize, "L2-normalise the embeddings");
  cmd->add_option("-o,--output", args->output_path,
                  "write FILE (.jsonl, or .npy + FILE.texts.txt + FILE.errors.jsonl)");
  cmd->add_option("--format", args->output_format,
                  "output format (default: from the --output extension)")
      ->check(CLI::IsMember({"jsonl", "npy"}));
  return [args] { return run_embed_text(*args); };
}

}  // namespace clipembed::cli
