// `clipembed merge`: joins the npy outputs of shards (`embed --shard K/N`) or Dask partitions
// into one, in input order.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/shard.h"
#include "clipembed/error.h"

namespace clipembed::cli {
namespace {

struct MergeArgs {
  std::vector<std::string> inputs;
  std::string output;
  bool quiet = false;
};

int run_merge(const MergeArgs& a) {
  try {
    const size_t rows = merge_outputs(a.inputs, a.output);
    if (!a.quiet)
      std::fprintf(stderr, "clipembed merge: %zu rows into %s\n", rows, a.output.c_str());
  } catch (const Error& e) {
    return report_error("merge", e);
  }
  return kExitOk;
}

}  // namespace

CommandRun add_merge_command(CLI::App& app) {
  auto args = std::make_shared<MergeArgs>();
  CLI::App* cmd = app.add_subcommand(
      "merge", "join npy outputs of shards or Dask partitions into one, in input order");
  cmd->add_option("inputs", args->inputs,
                  "npy outputs, or directories whose .npy files are taken in name order")
      ->required();
  cmd->add_option("-o,--output", args->output, "the merged FILE.npy (+ .paths.txt, .errors.jsonl)")
      ->required();
  cmd->add_flag("-q,--quiet", args->quiet, "no summary on stderr");
  return [args] { return run_merge(*args); };
}

}  // namespace clipembed::cli
