// `clipembed download REPO_ID [--revision R]`: fetches a model into the Hugging Face cache, where
// `--model REPO_ID` (and transformers) will find it.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "clipembed/error.h"
#include "clipembed/hub.h"
#include "io/hub_download.h"

namespace clipembed::cli {
namespace {

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr ? std::string(v) : std::string();
}

// HF_TOKEN, else the token `huggingface-cli login` saved ($HF_HOME/token).
std::string hub_token() {
  if (std::string t = env("HF_TOKEN"); !t.empty()) return t;
  if (std::string t = env("HUGGING_FACE_HUB_TOKEN"); !t.empty()) return t;  // Older name.
  std::ifstream in(hub_home_directory() + "/token");
  std::string token;
  std::getline(in, token);
  while (!token.empty() && (token.back() == '\r' || token.back() == ' ')) token.pop_back();
  return token;
}

// Redraws "file [####....] 12.0/577.2 MB 31.4 MB/s" on a terminal, at most ten times a second.
class DownloadProgress {
 public:
  explicit DownloadProgress(bool quiet) : quiet_(quiet), terminal_(::isatty(STDERR_FILENO) != 0) {}

  void update(const std::string& file, uint64_t have, uint64_t total) {
    if (quiet_ || !terminal_) return;
    const auto now = std::chrono::steady_clock::now();
    if (file != file_) {
      file_ = file, start_ = now, start_bytes_ = have, last_ = {};
    }
    if (now - last_ < std::chrono::milliseconds(100) && have != total) return;
    last_ = now;
    const double seconds = std::chrono::duration<double>(now - start_).count();
    const double rate = seconds > 0 ? (have - start_bytes_) / seconds / 1e6 : 0.0;
    constexpr int kWidth = 24;
    const int filled = total > 0 ? static_cast<int>(kWidth * have / total) : 0;
    std::string bar(kWidth, '.');
    std::fill(bar.begin(), bar.begin() + std::min(filled, kWidth), '#');
    std::fprintf(stderr, "\r%-26s [%s] %.1f/%.1f MB  %.1f MB/s ", file.c_str(), bar.c_str(),
                 have / 1e6, total / 1e6, rate);
    std::fflush(stderr);
  }

  void done(const std::string& file, bool downloaded) {
    if (quiet_) return;
    if (terminal_ && file == file_) std::fputc('\n', stderr);
    std::fprintf(stderr, "%s: %s\n", file.c_str(), downloaded ? "downloaded" : "already cached");
  }

 private:
  bool quiet_, terminal_;
  std::string file_;
  std::chrono::steady_clock::time_point start_, last_;
  uint64_t start_bytes_ = 0;
};

int run_download(const std::string& repo_id, const std::string& revision, bool quiet) {
  io::HubDownloadOptions options;
  options.revision = revision;
  options.endpoint = env("HF_ENDPOINT").empty() ? options.endpoint : env("HF_ENDPOINT");
  while (!options.endpoint.empty() && options.endpoint.back() == '/') options.endpoint.pop_back();
  options.token = hub_token();
  options.cache_dir = hub_cache_directory();
  DownloadProgress progress(quiet);
  options.progress = [&](const std::string& file, uint64_t have, uint64_t total) {
    progress.update(file, have, total);
  };
  options.file_done = [&](const std::string& file, bool downloaded) {
    progress.done(file, downloaded);
  };
  try {
    const std::string snapshot = io::download_from_hub(repo_id, options);
    std::printf("%s\n", snapshot.c_str());
    return kExitOk;
  } catch (const Error& e) {
    if (!quiet && ::isatty(STDERR_FILENO) != 0) std::fputc('\n', stderr);
    return report_error("download", e);
  }
}

}  // namespace

CommandRun add_download_command(CLI::App& app) {
  struct Args {
    std::string repo_id, revision = "main";
    bool quiet = false;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand(
      "download",
      "fetch a model into the Hugging Face cache ($HF_HUB_CACHE, else $HF_HOME/hub, else\n"
      "~/.cache/huggingface/hub) from $HF_ENDPOINT (default https://huggingface.co), with\n"
      "$HF_TOKEN for private or gated repositories. An interrupted download resumes where it\n"
      "stopped. Prints the snapshot directory.");
  cmd->add_option("repo_id", args->repo_id, "e.g. openai/clip-vit-base-patch32")->required();
  cmd->add_option("--revision", args->revision, "branch, tag or commit (default main)");
  cmd->add_flag("-q,--quiet", args->quiet, "no progress on stderr");
  return [args] { return run_download(args->repo_id, args->revision, args->quiet); };
}

}  // namespace clipembed::cli
