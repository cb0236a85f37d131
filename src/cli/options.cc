#include "cli/options.h"

#include <CLI/CLI.hpp>

#include "clipembed/error.h"
#include "clipembed/runtime.h"

namespace clipembed::cli {

void add_model_option(CLI::App& command, std::string& reference) {
  command
      .add_option("--model", reference,
                  "model directory, or Hugging Face repo id in the local cache "
                  "(e.g. openai/clip-vit-base-patch32)")
      ->envname("CLIPEMBED_MODEL")
      ->required();
}

void add_precision_option(CLI::App& command, Precision& precision) {
  command
      .add_option_function<std::string>(
          "--precision", [&precision](const std::string& v) { precision = parse_precision(v); },
          "fp32 (default), int8 or bf16")
      ->check([](const std::string& v) {
        try {
          parse_precision(v);
          return std::string();
        } catch (const Error& e) {
          return std::string(e.what());
        }
      });
}

void add_threads_option(CLI::App& command, int& threads) {
  command
      .add_option("--threads", threads,
                  "compute threads (default: $CLIPEMBED_THREADS, else one per core)")
      ->check(CLI::Range(1, 1024));
}

void add_input_options(CLI::App& command, InputLimits& input) {
  command
      .add_option("--max-file-bytes", input.max_file_bytes,
                  "larger image files are refused before reading (default 256 MiB)")
      ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 50));
  UrlLimits& limits = input.url;
  command
      .add_option_function<int64_t>(
          "--url-timeout-ms",
          [&limits](int64_t ms) { limits.total_timeout = std::chrono::milliseconds(ms); },
          "time limit of one URL download (default 30000)")
      ->check(CLI::Range(int64_t{1}, int64_t{86'400'000}));
  command
      .add_option("--url-max-bytes", limits.max_bytes, "size limit of one URL download (32 MiB)")
      ->check(CLI::Range(size_t{1}, size_t{1} << 40));
  command.add_flag("--allow-private-urls", limits.allow_private_addresses,
                   "URL inputs may reach private, loopback and link-local addresses");
}

void start_runtime(int threads) { configure_runtime(RuntimeOptions{.threads = threads}); }

void add_input_sources(CLI::App& command, std::vector<std::string>& arguments,
                       InputOptions& options) {
  command.add_option("inputs", arguments,
                     "image files, directories, http(s) URLs, or - for a list on stdin");
  command.add_flag("-r,--recursive", options.recursive,
                   "descend into subdirectories of DIR arguments");
  command.add_option("--glob", options.glob,
                     "files to take from directories (default: image extensions)");
  command
      .add_option("--files-from", options.files_from, "read one path or URL per line (- for stdin)")
      ->allow_extra_args(false);
}

}  // namespace clipembed::cli
