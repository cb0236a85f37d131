// The one command-line parser (CLI11): every subcommand registers its options here, answers
// --help on stdout with exit 0, and reports a bad argument with exit 2.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <map>
#include <string>

#include "cli/commands.h"
#include "clipembed/version.h"

namespace clipembed::cli {

int report_error(const char* command, const Error& error) {
  std::fprintf(stderr, "clipembed %s: %s: %s\n", command,
               std::string(code_name(error.code())).c_str(), error.what());
  return kExitUsage;
}

int run_cli(int argc, char** argv) {
  CLI::App app(
      "clipembed: CLIP embeddings equal to Hugging Face transformers'.\n"
      "REF (--model): a model directory, or a Hugging Face repo id in the local cache\n"
      "(e.g. openai/clip-vit-base-patch32); default: $CLIPEMBED_MODEL",
      "clipembed");
  app.set_version_flag("--version,-V", std::string("clipembed ") + version() + " (" +
                                           build_commit() + "), kernels " + kernel_isa() +
                                           ", bf16 " + bf16_kernel());
  app.require_subcommand(1);
  app.get_formatter()->column_width(34);
  std::map<const CLI::App*, CommandRun> commands;
  auto add = [&](CommandRun (*add_command)(CLI::App&)) {
    CommandRun run = add_command(app);
    commands[app.get_subcommands({}).back()] = std::move(run);
  };
  add(add_embed_command);
  add(add_merge_command);
  add(add_index_command);
  add(add_search_command);
  add(add_dedup_command);
  add(add_embed_text_command);
  add(add_tokenize_command);
  add(add_classify_command);
  add(add_preprocess_command);
  add(add_info_command);
  add(add_bench_command);
  add(add_download_command);
  add(add_serve_command);
  // An unknown command is named (CLI11 would only say that a subcommand is required).
  if (argc > 1 && argv[1][0] != '-') {
    std::string names;
    bool known = false;
    for (const CLI::App* command : app.get_subcommands({})) {
      known = known || command->get_name() == argv[1];
      names += (names.empty() ? "" : ", ") + command->get_name();
    }
    if (!known) {
      std::fprintf(stderr, "clipembed: unknown command '%s' (commands: %s; see clipembed --help)\n",
                   argv[1], names.c_str());
      return kExitUsage;
    }
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version end parsing with exit code 0 and print to stdout; anything else is a
    // usage error.
    const int code = app.exit(e);
    return code == 0 ? kExitOk : kExitUsage;
  }
  for (const auto& [command, run] : commands) {
    if (command->parsed()) return run();
  }
  return kExitUsage;
}

}  // namespace clipembed::cli
