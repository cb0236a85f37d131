// Internal: the CLI's subcommands. Each takes the arguments after its name and returns the
// process exit code (0 success, 2 usage or model error, 3 some inputs failed).
#pragma once

#include <string>
#include <vector>

#include "clipembed/error.h"
#include "clipembed/model.h"

namespace clipembed::cli {

constexpr int kExitOk = 0;
constexpr int kExitUsage = 2;
constexpr int kExitSomeFailed = 3;

int embed_command(const std::vector<std::string>& args);
int info_command(const std::vector<std::string>& args);
int bench_command(const std::vector<std::string>& args);
int download_command(const std::vector<std::string>& args);
int serve_command(const std::vector<std::string>& args);

// The model named by --model at args[*i] (advancing *i past its value), or "" if args[*i] is not
// --model. Values are directories or Hugging Face repo ids (resolved with locate_model()).
std::string model_argument(const std::vector<std::string>& args, size_t* i);
// Parses a --precision value (see parse_precision()) into *out; on a bad value prints the reason
// ("clipembed COMMAND: ...") and returns false.
bool precision_argument(const char* command, const std::string& value, Precision* out);
// CLIPEMBED_MODEL, or "".
std::string default_model();

// Prints "clipembed COMMAND: CODE: MESSAGE" on stderr; returns kExitUsage.
int report_error(const char* command, const Error& error);
int preprocess_command(const std::vector<std::string>& args);

}  // namespace clipembed::cli
