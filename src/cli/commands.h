// Internal: the CLI's subcommands. Each takes the arguments after its name and returns the
// process exit code (0 success, 2 usage or model error, 3 some inputs failed).
#pragma once

#include <string>
#include <vector>

namespace clipembed::cli {

constexpr int kExitOk = 0;
constexpr int kExitUsage = 2;
constexpr int kExitSomeFailed = 3;

int embed_command(const std::vector<std::string>& args);
int preprocess_command(const std::vector<std::string>& args);

}  // namespace clipembed::cli
