// Internal: the options several subcommands share, declared once so that every command spells
// and checks them the same way.
#pragma once

#include <string>
#include <vector>

#include "cli/input_list.h"
#include "clipembed/input.h"
#include "clipembed/model.h"

namespace CLI {
class App;
}  // namespace CLI

namespace clipembed::cli {

// --model REF (a directory or a Hugging Face repo id), also from $CLIPEMBED_MODEL; required.
void add_model_option(CLI::App& command, std::string& reference);
// --precision fp32|int8|bf16, checked by parse_precision() (which says why float16 is refused).
void add_precision_option(CLI::App& command, Precision& precision);
// --threads N: compute threads of the shared runtime (default: $CLIPEMBED_THREADS, else one per
// core).
void add_threads_option(CLI::App& command, int& threads);
// --max-file-bytes for files, and --url-timeout-ms, --url-max-bytes and --allow-private-urls for
// URL inputs.
void add_input_options(CLI::App& command, InputLimits& limits);

// The inputs of a command that walks files: positional PATH, DIR, URL or - arguments, -r,
// --glob and --files-from (input_list.h).
void add_input_sources(CLI::App& command, std::vector<std::string>& arguments,
                       InputOptions& options);

// Starts the shared runtime with --threads' value (0: the default).
void start_runtime(int threads);

}  // namespace clipembed::cli
