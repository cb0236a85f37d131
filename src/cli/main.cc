// clipembed: the command-line front end. See README.md for every command with an example.
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "cli/commands.h"

namespace {

constexpr const char* kUsage =
    "usage: clipembed <command> [options]\n"
    "\n"
    "commands:\n"
    "  embed --model REF [options] PATH|DIR|URL... one JSON line (or npy row) per image\n"
    "  preprocess --model REF IMAGE -o OUT.png     write the crop the model sees\n"
    "  info --model REF                            describe a model\n"
    "  bench --model REF [--precision P]           images/s and latency per batch size\n"
    "  bench --model REF --images DIR              end to end against the forward pass alone\n"
    "  download REPO_ID [--revision R]             fetch a model into the Hugging Face cache\n"
    "  serve --model REF [--port P] [options]      HTTP embedding service (OpenAI-style API)\n"
    "\n"
    "REF: a model directory, or a Hugging Face repo id in the local cache\n"
    "(e.g. openai/clip-vit-base-patch32); default: $CLIPEMBED_MODEL\n";

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h") {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? clipembed::cli::kExitUsage : clipembed::cli::kExitOk;
  }
  const std::string command = argv[1];
  const std::vector<std::string> args(argv + 2, argv + argc);
  try {
    if (command == "embed") return clipembed::cli::embed_command(args);
    if (command == "preprocess") return clipembed::cli::preprocess_command(args);
    if (command == "info") return clipembed::cli::info_command(args);
    if (command == "bench") return clipembed::cli::bench_command(args);
    if (command == "download") return clipembed::cli::download_command(args);
    if (command == "serve") return clipembed::cli::serve_command(args);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "clipembed: %s\n", e.what());
    return clipembed::cli::kExitUsage;
  }
  std::fprintf(stderr, "clipembed: unknown command '%s'\n%s", command.c_str(), kUsage);
  return clipembed::cli::kExitUsage;
}
