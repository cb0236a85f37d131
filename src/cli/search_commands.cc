// `clipembed search` (by text or image) and `clipembed dedup` over an index (index_commands.cc).
#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/embed_pipeline.h"
#include "cli/options.h"
#include "clipembed/error.h"
#include "clipembed/hub.h"
#include "clipembed/index.h"
#include "clipembed/model.h"
#include "io/json_text.h"
#include "search/index_info.h"

namespace clipembed::cli {
namespace {

// One query: a text, or an image (a path or URL).
struct Query {
  std::optional<std::string> text, image;
};

struct SearchArgs {
  std::string directory, model, text, image, queries_from;
  size_t k = 10;
  int threads = 0;
  InputLimits input;
};

// The queries of --queries-from: JSON lines {"text": ...} or {"image": ...}.
std::vector<Query> read_queries(const std::string& path) {
  std::ifstream in(path == "-" ? "/dev/stdin" : path, std::ios::binary);
  if (!in) throw Error(ErrorCode::kIo, "cannot open " + path);
  std::vector<Query> queries;
  size_t line_number = 0;
  for (std::string line; std::getline(in, line);) {
    ++line_number;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const auto j = nlohmann::json::parse(line, nullptr, false);
    Query q;
    if (j.is_object() && j.size() == 1 && j.contains("text") && j["text"].is_string()) {
      q.text = j["text"].get<std::string>();
    } else if (j.is_object() && j.size() == 1 && j.contains("image") && j["image"].is_string()) {
      q.image = j["image"].get<std::string>();
    } else {
      throw Error(ErrorCode::kInvalidArgument,
                  path + " line " + std::to_string(line_number) +
                      ": expected {\"text\": ...} or {\"image\": ...}");
    }
    queries.push_back(std::move(q));
  }
  return queries;
}

int run_search(const SearchArgs& a) {
  start_runtime(a.threads);
  std::shared_ptr<const EmbeddingIndex> index;
  std::shared_ptr<const ClipModel> model;
  std::vector<Query> queries;
  try {
    if (!a.queries_from.empty()) {
      queries = read_queries(a.queries_from);
    } else if (!a.text.empty()) {
      queries.push_back({a.text, std::nullopt});
    } else if (!a.image.empty()) {
      queries.push_back({std::nullopt, a.image});
    } else {
      throw Error(ErrorCode::kInvalidArgument, "give --text, --image or --queries-from");
    }
    index = EmbeddingIndex::open(a.directory);
    const IndexInfo& info = index->info();
    const std::string reference = a.model.empty() ? info.model : a.model;
    model = ClipModel::load(locate_model(reference),
                            {.input = a.input, .precision = parse_precision(info.precision)});
    search::check_identity(info, model_identity(*model, reference), a.directory);
  } catch (const Error& e) {
    return report_error("search", e);
  }
  const bool numbered = !a.queries_from.empty();
  size_t failed = 0;
  for (size_t q = 0; q < queries.size(); ++q) {
    Embedding vector;
    try {
      vector = queries[q].text ? model->embed_text(*queries[q].text)
                               : model->embed_image(command_line_input(*queries[q].image));
    } catch (const Error& e) {
      if (!numbered) return report_error("search", e);
      ++failed;
      std::printf("{\"query\": %zu, \"error\": {\"code\": %s, \"message\": %s}}\n", q,
                  io::json_string(code_name(e.code())).c_str(), io::json_string(e.what()).c_str());
      continue;
    }
    const auto hits = index->search(vector, a.k);
    for (size_t r = 0; r < hits[0].size(); ++r) {
      const SearchHit& hit = hits[0][r];
      const std::string prefix = numbered ? "{\"query\": " + std::to_string(q) + ", " : "{";
      std::string score;
      io::append_json_float(score, hit.score);
      std::printf("%s\"rank\": %zu, \"path\": %s, \"score\": %s}\n", prefix.c_str(), r + 1,
                  io::json_string(hit.path).c_str(), score.c_str());
    }
  }
  std::fflush(stdout);
  return failed > 0 ? kExitSomeFailed : kExitOk;
}

int run_dedup(const std::string& directory, float threshold) {
  try {
    const auto index = EmbeddingIndex::open(directory);
    const auto groups = index->duplicate_groups(threshold);
    for (size_t g = 0; g < groups.size(); ++g) {
      std::string line = "{\"group\": " + std::to_string(g) + ", \"paths\": [";
      for (size_t i = 0; i < groups[g].size(); ++i) {
        if (i > 0) line += ", ";
        line += io::json_string(index->path(groups[g][i]));
      }
      std::printf("%s]}\n", line.c_str());
    }
  } catch (const Error& e) {
    return report_error("dedup", e);
  }
  std::fflush(stdout);
  return kExitOk;
}

}  // namespace

CommandRun add_search_command(CLI::App& app) {
  auto a = std::make_shared<SearchArgs>();
  CLI::App* cmd = app.add_subcommand("search", "rank an index's images by a text or an image");
  cmd->add_option("index", a->directory, "the index directory")->required();
  auto* text = cmd->add_option("--text", a->text, "a text query");
  auto* image = cmd->add_option("--image", a->image, "an image query: a path or an http(s) URL");
  auto* from = cmd->add_option("--queries-from", a->queries_from,
                               "JSON lines of {\"text\": ...} or {\"image\": ...} (- for stdin)");
  text->excludes(image)->excludes(from);
  image->excludes(from);
  cmd->add_option("-k", a->k, "results per query (default 10)")->check(CLI::Range(1, 100000));
  cmd->add_option("--model", a->model, "the model (default: the one index.json names)");
  add_threads_option(*cmd, a->threads);
  add_input_options(*cmd, a->input);
  return [a] { return run_search(*a); };
}

CommandRun add_dedup_command(CLI::App& app) {
  auto directory = std::make_shared<std::string>();
  auto threshold = std::make_shared<float>(0.95f);
  CLI::App* cmd =
      app.add_subcommand("dedup", "groups of near-duplicate images in an index (JSON lines)");
  cmd->add_option("index", *directory, "the index directory")->required();
  cmd->add_option("--threshold", *threshold,
                  "cosine above which two images are near duplicates (default 0.95)")
      ->check(CLI::Range(-1.0f, 1.0f));
  return [directory, threshold] { return run_dedup(*directory, *threshold); };
}

}  // namespace clipembed::cli
