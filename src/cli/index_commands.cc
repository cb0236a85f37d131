// `clipembed index build|add`: embeds a collection into a search index (include/clipembed/index.h)
// through the embed pipeline, resumable like `embed --resume`.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/embed_pipeline.h"
#include "cli/input_list.h"
#include "cli/options.h"
#include "cli/progress.h"
#include "clipembed/error.h"
#include "clipembed/hub.h"
#include "clipembed/index.h"
#include "clipembed/model.h"
#include "search/index_info.h"

namespace clipembed::cli {
namespace {

struct IndexArgs {
  std::string directory;
  std::string model;  // For add: optional, the index's own model by default.
  bool quiet = false;
  size_t batch_size = 16;
  int threads = 0;
  Precision precision = Precision::kF32;
  std::string index_type = "flat";
  IndexSettings settings;
  InputOptions input_options;
  InputLimits input;
  std::vector<std::string> arguments;
};

int run_index(const IndexArgs& a, bool build) {
  const char* command = build ? "index build" : "index add";
  if (a.arguments.empty() && a.input_options.files_from.empty()) {
    std::fprintf(stderr, "clipembed %s: no inputs (give PATH, DIR, URL, - or --files-from)\n",
                 command);
    return kExitUsage;
  }
  start_runtime(a.threads);
  std::shared_ptr<const ClipModel> model;
  std::optional<IndexWriter> writer;
  try {
    IndexSettings settings = a.settings;
    settings.type = parse_index_type(a.index_type);
    std::string reference = a.model;
    Precision precision = a.precision;
    if (build && std::filesystem::exists(a.directory + "/index.json")) {
      throw Error(ErrorCode::kInvalidArgument,
                  a.directory + " already holds an index; clipembed index add adds to it");
    }
    if (!build) {
      const IndexInfo info = search::read_info(a.directory);
      if (reference.empty()) reference = info.model;
      precision = parse_precision(info.precision);
    }
    model =
        ClipModel::load(locate_model(reference),
                        {.input = a.input, .precision = precision, .vision = true, .text = false});
    writer.emplace(a.directory, model_identity(*model, reference), settings);
  } catch (const Error& e) {
    return report_error(command, e);
  }
  InputSource inputs(a.arguments, a.input_options);
  size_t processed = 0, failed = 0;
  Progress progress(std::nullopt, a.quiet);
  auto next = [&]() -> std::optional<std::string> {
    for (std::optional<std::string> input = inputs.next(); input; input = inputs.next()) {
      if (!writer->present(*input)) return input;
    }
    return std::nullopt;
  };
  auto emit = [&](const PipelineResult& r) {
    ++processed;
    if (r.embedding != nullptr) {
      writer->add(r.input, {r.embedding, static_cast<size_t>(model->dimension())});
    } else {
      ++failed;
      writer->add_failure(r.input, code_name(r.code), r.message);
    }
  };
  try {
    run_pipeline(*model, next, {.batch_size = a.batch_size, .normalize = true}, emit, [&] {
      writer->flush();
      progress.update(processed, failed);
    });
    const IndexInfo info = writer->finish();
    progress.finish(processed, failed);
    if (!a.quiet) {
      std::fprintf(stderr, "clipembed %s: %s holds %zu vectors (%s), %zu failures\n", command,
                   a.directory.c_str(), info.count, index_type_name(info.settings.type),
                   info.failures);
      if (info.settings.type != IndexType::kFlat) {
        const IndexSettings& r = info.resolved;
        const std::string tuned = r.type == IndexType::kHnsw
                                      ? "ef_search " + std::to_string(r.hnsw_ef_search)
                                      : "nprobe " + std::to_string(r.ivf_nprobe) + ", rerank " +
                                            std::to_string(r.ivf_rerank);
        std::fprintf(stderr, "clipembed %s: searches with %s; recall@10 %.3f on a sample\n",
                     command, tuned.c_str(), info.estimated_recall);
      }
    }
  } catch (const Error& e) {
    return report_error(command, e);
  }
  return failed > 0 ? kExitSomeFailed : kExitOk;
}

void add_index_options(CLI::App& cmd, IndexArgs& a) {
  add_input_sources(cmd, a.arguments, a.input_options);
  cmd.add_option("--batch-size", a.batch_size, "images per forward pass (default 16)")
      ->check(CLI::Range(1, 4096));
  add_threads_option(cmd, a.threads);
  add_input_options(cmd, a.input);
  cmd.add_flag("-q,--quiet", a.quiet, "no progress bar or summary on stderr");
}

}  // namespace

CommandRun add_index_command(CLI::App& app) {
  auto build = std::make_shared<IndexArgs>();
  auto add = std::make_shared<IndexArgs>();
  CLI::App* index =
      app.add_subcommand("index", "build a search index of a collection, or add to it");
  index->require_subcommand(1);

  CLI::App* b =
      index->add_subcommand("build", "embed a collection (normalized) into a new index directory");
  add_model_option(*b, build->model);
  b->add_option("-o,--output", build->directory, "the index directory to create")->required();
  add_precision_option(*b, build->precision);
  b->add_option("--index-type", build->index_type,
                "flat (exact, default), hnsw or ivfpq (approximate, for millions)")
      ->check(CLI::IsMember({"flat", "hnsw", "ivfpq"}));
  b->add_option("--hnsw-m", build->settings.hnsw_m, "HNSW neighbours per node (default 32)")
      ->check(CLI::Range(4, 256));
  b->add_option("--hnsw-ef-construction", build->settings.hnsw_ef_construction,
                "HNSW candidates while building (default 80)")
      ->check(CLI::Range(8, 4096));
  b->add_option("--hnsw-ef-search", build->settings.hnsw_ef_search,
                "HNSW candidates while searching (default: tuned to --target-recall)")
      ->check(CLI::Range(8, 65536));
  b->add_option("--ivf-nlist", build->settings.ivf_nlist,
                "IVF lists (default about 4 x sqrt(vectors))")
      ->check(CLI::Range(1, 1 << 22));
  b->add_option("--pq-m", build->settings.pq_m,
                "PQ sub-quantizers, dividing the dimension (default dimension / 4)")
      ->check(CLI::Range(1, 4096));
  b->add_option("--ivf-nprobe", build->settings.ivf_nprobe,
                "IVF lists visited per query (default: tuned to --target-recall)")
      ->check(CLI::Range(1, 1 << 22));
  b->add_option("--ivf-rerank", build->settings.ivf_rerank,
                "ivfpq candidates per result re-scored exactly (default: tuned to "
                "--target-recall, from 10)")
      ->check(CLI::Range(1, 1000));
  b->add_option("--target-recall", build->settings.target_recall,
                "recall@10 the tuned search settings reach on a sample of the collection "
                "(default 0.95)")
      ->check(CLI::Range(0.01, 1.0));
  add_index_options(*b, *build);

  CLI::App* a = index->add_subcommand(
      "add", "add files to an index (skipping those present); resumes a killed build");
  a->add_option("index", add->directory, "the index directory")->required();
  a->add_option("--model", add->model, "the model (default: the one index.json names)");
  add_index_options(*a, *add);
  return [build, b, add] { return b->parsed() ? run_index(*build, true) : run_index(*add, false); };
}

}  // namespace clipembed::cli
