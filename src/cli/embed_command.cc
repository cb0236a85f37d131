// `clipembed embed`: embeds files, directories, lists and URLs into JSON lines or an .npy file.
#include <malloc.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_set>
#include <vector>

#include "cli/commands.h"
#include "cli/embed_output.h"
#include "cli/embed_pipeline.h"
#include "cli/input_list.h"
#include "cli/options.h"
#include "cli/progress.h"
#include "cli/shard.h"
#include "clipembed/error.h"
#include "clipembed/hub.h"
#include "clipembed/model.h"
#include "io/embedding_file.h"

namespace clipembed::cli {
namespace {

struct EmbedArgs {
  std::string model;
  bool normalize = false, quiet = false, resume = false;
  size_t batch_size = 16;
  int threads = 0;
  Precision precision = Precision::kF32;
  InputOptions input_options;
  InputLimits input;
  std::string output_path, output_format;
  std::string shard;  // "K/N", or empty for every input.
  std::vector<std::string> arguments;
};

int run_embed(const EmbedArgs& a) {
  if (a.arguments.empty() && a.input_options.files_from.empty()) {
    std::fputs("clipembed embed: no inputs (give PATH, DIR, URL, - or --files-from)\n", stderr);
    return kExitUsage;
  }
  std::optional<Shard> shard;
  try {
    if (!a.shard.empty()) shard = parse_shard(a.shard);
  } catch (const Error& e) {
    return report_error("embed", e);
  }
  if (shard &&
      (a.output_path.empty() || !(a.output_path.ends_with(".npy") || a.output_format == "npy"))) {
    std::fputs(
        "clipembed embed: --shard writes an .npy output (--output FILE.npy), which clipembed merge "
        "joins\n",
        stderr);
    return kExitUsage;
  }
  start_runtime(a.threads);
  InputSource inputs(a.arguments, a.input_options);
  std::shared_ptr<const ClipModel> model;
  std::unique_ptr<EmbedOutput> output;
  std::unordered_set<std::string> done;
  try {
    model = ClipModel::load(
        locate_model(a.model),
        LoadOptions{.input = a.input, .precision = a.precision, .vision = true, .text = false});
    output = make_embed_output(a.output_path, a.output_format, model->dimension(),
                               a.resume ? &done : nullptr);
  } catch (const Error& e) {
    return report_error("embed", e);
  }

  // The total is counted by a second walk (cheap next to embedding) only for the progress bar;
  // inputs themselves are streamed, so memory stays flat for any number of files.
  std::optional<size_t> total =
      Progress::draws_bar(a.quiet) && !shard ? inputs.count() : std::nullopt;
  if (total) *total -= std::min(*total, done.size());
  size_t processed = 0, failed = 0;
  Progress progress(total, a.quiet);
  // With a shard, only its inputs are taken, and all of them (done or not) are remembered for its
  // manifest.
  size_t ordinal = 0;
  std::vector<std::string> shard_inputs;
  auto next = [&]() -> std::optional<std::string> {
    for (std::optional<std::string> input = inputs.next(); input; input = inputs.next()) {
      if (shard && !shard->takes(ordinal++)) continue;
      if (shard) shard_inputs.push_back(*input);
      if (done.count(*input) == 0) return input;
    }
    return std::nullopt;
  };
  auto emit = [&](const PipelineResult& r) {
    ++processed;
    if (r.embedding != nullptr) {
      output->success(r.input, std::span<const float>(r.embedding, model->dimension()));
    } else {
      ++failed;
      output->failure(r.input, code_name(r.code), r.message);
    }
  };
  auto batch_done = [&] {
    output->flush();
#if defined(__GLIBC__)
    // Hands the pages freed by this batch back to the system. Without it glibc keeps the holes a
    // forward pass's many short-lived buffers leave behind, and peak RSS creeps up over a long
    // run (20,000 small files peaked well above a 200-file run); the walk is cheap next to a
    // batch.
    malloc_trim(0);
#endif
    progress.update(processed, failed);
  };
  try {
    run_pipeline(*model, next, {.batch_size = a.batch_size, .normalize = a.normalize}, emit,
                 batch_done);
    if (shard) {
      output->flush();
      write_shard_manifest(a.output_path, *shard, shard_inputs, io::failed_inputs(a.output_path));
    }
  } catch (const Error& e) {
    return report_error("embed", e);
  }
  progress.finish(processed, failed);
  return failed > 0 ? kExitSomeFailed : kExitOk;
}

}  // namespace

CommandRun add_embed_command(CLI::App& app) {
  auto args = std::make_shared<EmbedArgs>();
  CLI::App* cmd = app.add_subcommand("embed", "one JSON line (or npy row) per image");
  add_model_option(*cmd, args->model);
  add_input_sources(*cmd, args->arguments, args->input_options);
  cmd->add_option("--batch-size", args->batch_size, "images per forward pass (default 16)")
      ->check(CLI::Range(1, 4096));
  add_threads_option(*cmd, args->threads);
  add_precision_option(*cmd, args->precision);
  cmd->add_flag("--normalize", args->normalize, "L2-normalise the embeddings");
  cmd->add_flag("-q,--quiet", args->quiet, "no progress bar or summary on stderr");
  cmd->add_flag("--resume", args->resume, "skip inputs already in --output and append the rest");
  cmd->add_option("-o,--output", args->output_path,
                  "write FILE (.jsonl, or .npy + FILE.paths.txt + FILE.errors.jsonl)");
  cmd->add_option("--format", args->output_format,
                  "output format (default: from the --output extension)")
      ->check(CLI::IsMember({"jsonl", "npy"}));
  cmd->add_option("--shard", args->shard,
                  "embed only shard K/N (0-based K): inputs K, K+N, K+2N... of the sorted input, "
                  "for array jobs; clipembed merge joins the shards");
  add_input_options(*cmd, args->input);
  return [args] { return run_embed(*args); };
}

}  // namespace clipembed::cli
