// Internal: the CLI's subcommands. Each adds its subcommand and options to the one parser
// (CLI11, in main.cc) and returns what runs it once the command line is parsed; that returns the
// process exit code (0 success, 2 usage or model error, 3 some inputs failed).
#pragma once

#include <functional>

#include "clipembed/error.h"

namespace CLI {
class App;
}  // namespace CLI

namespace clipembed::cli {

constexpr int kExitOk = 0;
constexpr int kExitUsage = 2;
constexpr int kExitSomeFailed = 3;

using CommandRun = std::function<int()>;

CommandRun add_embed_command(CLI::App& app);
CommandRun add_preprocess_command(CLI::App& app);
CommandRun add_info_command(CLI::App& app);
CommandRun add_bench_command(CLI::App& app);
CommandRun add_download_command(CLI::App& app);
CommandRun add_serve_command(CLI::App& app);
CommandRun add_tokenize_command(CLI::App& app);
CommandRun add_embed_text_command(CLI::App& app);
CommandRun add_classify_command(CLI::App& app);
CommandRun add_merge_command(CLI::App& app);
CommandRun add_index_command(CLI::App& app);
CommandRun add_search_command(CLI::App& app);
CommandRun add_dedup_command(CLI::App& app);

// Parses the command line and runs the command it names; returns the exit code.
int run_cli(int argc, char** argv);

// Prints "clipembed COMMAND: CODE: MESSAGE" on stderr; returns kExitUsage.
int report_error(const char* command, const Error& error);

}  // namespace clipembed::cli
