// `clipembed serve`: runs the HTTP embedding service until SIGTERM, SIGINT or SIGHUP, then drains
// (within --grace-ms) and exits 0. A model that cannot exist exits 2 at start-up.
#include <signal.h>
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/options.h"
#include "clipembed/error.h"
#include "clipembed/runtime.h"
#include "server/access_log.h"
#include "server/http_server.h"

namespace clipembed::cli {
namespace {

// An enum option given by name: the name becomes the enum's value, and an unknown one is refused
// naming the choices (CLI11's own transformer prints the enum's numbers).
template <typename Enum>
CLI::Validator named_choice(std::vector<std::pair<std::string, Enum>> names,
                            const std::string& what) {
  std::string choices;
  for (size_t i = 0; i < names.size(); ++i) {
    choices += (i == 0 ? "" : i + 1 == names.size() ? " or " : ", ") + names[i].first;
  }
  return CLI::Validator(
      [names = std::move(names), choices](std::string& value) -> std::string {
        for (const auto& [name, enum_value] : names) {
          if (name == value) {
            value = std::to_string(static_cast<int>(enum_value));
            return {};
          }
        }
        return "'" + value + "' is not " + choices;
      },
      "", what);
}

// The key from --api-key-file: its first line (so `echo KEY > file` works), never shown.
std::string read_key_file(const std::string& path) {
  std::ifstream in(path);
  std::string key;
  if (!in || !std::getline(in, key)) {
    throw Error(ErrorCode::kIo, "cannot read the API key from " + path);
  }
  while (!key.empty() && (key.back() == '\r' || key.back() == ' ')) key.pop_back();
  if (key.empty()) throw Error(ErrorCode::kInvalidArgument, path + " holds an empty API key");
  return key;
}

// Every connection holds a descriptor, and the usual soft limit (1024) is below the default
// --max-connections; raise it to the hard limit, as servers commonly do.
void raise_descriptor_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

// A fatal error, on stderr in the log's format; returns the usage exit code.
int report_serve_error(const Error& error, server::LogFormat format) {
  server::write_event_log("error", std::string(code_name(error.code())) + ": " + error.what(),
                          format);
  return kExitUsage;
}

int run_serve(server::ServerOptions o, int threads, const std::string& key_file) {
  raise_descriptor_limit();
  // A write to a socket or pipe whose reader has gone (stderr piped into `head`, a client that
  // hung up) fails with EPIPE instead of killing the process: a lost log line or a lost client
  // never stops the server.
  signal(SIGPIPE, SIG_IGN);
  // Every thread created from here on inherits the blocked signals; this thread takes them with
  // sigtimedwait, so no handler runs in the middle of a request. SIGHUP (the terminal closed)
  // drains and stops as SIGTERM does.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  const server::LogFormat format = o.log_format;
  try {
    if (!key_file.empty()) o.api_key = read_key_file(key_file);
    server::EmbeddingServer server(o);
    // A model that cannot exist is an error now (exit 2), not a loader retrying forever.
    server.check_models();
    start_runtime(threads);
    const int bound = server.start();
    server::write_event_log(
        "info",
        "serving " + server::ServedModels(o.models, o.aliases).default_model().name +
            " (default) and " + std::to_string(o.models.size() - 1) + " more; loading",
        format);
    std::printf("clipembed serve: listening on http://%s:%d\n", o.host.c_str(), bound);
    std::fflush(stdout);
    const timespec tick{0, 200'000'000};
    while (true) {
      const int received = sigtimedwait(&signals, nullptr, &tick);
      if (received == SIGTERM || received == SIGINT || received == SIGHUP) {
        server::write_event_log(
            "info", "SIG" + std::string(sigabbrev_np(received)) + " received, draining", format);
        break;
      }
      if (const std::optional<Error> fatal = server.fatal_error()) {
        server.drain_and_stop();
        return report_serve_error(*fatal, format);
      }
    }
    server.drain_and_stop();
    server::write_event_log("info", "stopped", format);
    return kExitOk;
  } catch (const Error& e) {
    return report_serve_error(e, format);
  }
}

}  // namespace

CommandRun add_serve_command(CLI::App& app) {
  struct Args {
    server::ServerOptions options;
    int threads = 0;
    std::string key_file;
  };
  auto args = std::make_shared<Args>();
  server::ServerOptions& o = args->options;
  CLI::App* cmd = app.add_subcommand(
      "serve",
      "HTTP embedding service (OpenAI-style API). Each option can also be set by the\n"
      "environment variable in brackets.");
  auto env = [](CLI::Option* option, const char* name) { return option->envname(name); };
  env(cmd->add_option("--model", o.models,
                      "model to serve, REF or NAME=REF (repeatable; the first is the default). "
                      "Served as NAME, else a directory's last path component, else the repo "
                      "id; the variable may list several, comma-separated"),
      "CLIPEMBED_MODEL")
      ->delimiter(',')
      ->required();
  env(cmd->add_option("--served-model-name", o.aliases,
                      "another name a model answers to: ALIAS (for the default model) or "
                      "ALIAS=NAME (repeatable)"),
      "CLIPEMBED_SERVED_MODEL_NAME")
      ->delimiter(',');
  env(cmd->add_option("--index", o.indexes,
                      "a search index to answer POST /v1/search with: NAME=DIR (repeatable; its "
                      "model must be served)"),
      "CLIPEMBED_INDEX")
      ->delimiter(',');
  env(cmd->add_flag("--ui,!--no-ui", o.ui,
                    "the search page at / and /ui while an index is served (default on)"),
      "CLIPEMBED_UI");
  env(cmd->add_option("--max-search-k", o.max_search_k,
                      "results one search may ask for (default 1000)")
          ->check(CLI::Range(1, 100000)),
      "CLIPEMBED_MAX_SEARCH_K");
  env(cmd->add_option("--host", o.host, "address to listen on (default 127.0.0.1)"),
      "CLIPEMBED_HOST");
  env(cmd->add_option("--port", o.port, "port (default 8080; 0 picks a free one)"),
      "CLIPEMBED_PORT")
      ->check(CLI::Range(0, 65535));
  env(cmd->add_option("--api-key", o.api_key,
                      "require Authorization: Bearer KEY (prefer --api-key-file: a flag is "
                      "visible in the process list)"),
      "CLIPEMBED_API_KEY");
  env(cmd->add_option("--api-key-file", args->key_file, "read the API key from this file"),
      "CLIPEMBED_API_KEY_FILE");
  env(cmd->add_option("--workers", o.pool.max_workers_per_model, "workers per model (default 4)"),
      "CLIPEMBED_WORKERS")
      ->check(CLI::Range(1, 1024));
  env(cmd->add_option("--threads", args->threads, "compute threads (default: one per core)"),
      "CLIPEMBED_THREADS")
      ->check(CLI::Range(1, 1024));
  add_precision_option(*cmd, o.pool.precision);
  cmd->get_option("--precision")->envname("CLIPEMBED_PRECISION");
  env(cmd->add_flag_function(
          "--no-normalize", [&o](int64_t count) { o.normalize = count <= 0; },
          "return raw vectors by default (a request's \"normalize\" still decides)"),
      "CLIPEMBED_NO_NORMALIZE");
  env(cmd->add_option("--io-threads", o.io_threads,
                      "I/O threads, each serving any number of connections (default 2)"),
      "CLIPEMBED_IO_THREADS")
      ->check(CLI::Range(1, 256));
  env(cmd->add_option("--max-connections", o.max_connections,
                      "open connections; past it a new one gets 503 (default 10000)"),
      "CLIPEMBED_MAX_CONNECTIONS")
      ->check(CLI::Range(size_t{1}, size_t{1} << 24));
  env(cmd->add_option("--max-in-flight", o.max_in_flight,
                      "API requests answered at once; more get 503 (default 1024)"),
      "CLIPEMBED_MAX_IN_FLIGHT")
      ->check(CLI::Range(1, 1 << 24));
  env(cmd->add_option("--max-batch-size", o.pool.max_batch_size,
                      "inputs per forward pass (default 8)"),
      "CLIPEMBED_MAX_BATCH_SIZE")
      ->check(CLI::Range(1, 4096));
  env(cmd->add_option("--max-queue", o.pool.max_queued_inputs,
                      "inputs admitted per model (queued, decoding or downloading); a request "
                      "waits until all its inputs fit, one larger than this is refused with 413 "
                      "(default 4096)"),
      "CLIPEMBED_MAX_QUEUE")
      ->check(CLI::Range(size_t{1}, size_t{1} << 24));
  env(cmd->add_option("--max-body-bytes", o.http.max_body_bytes,
                      "request body limit (default 64 MiB)"),
      "CLIPEMBED_MAX_BODY_BYTES")
      ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 40));
  env(cmd->add_option("--max-items", o.max_items, "inputs per request (default 2048)"),
      "CLIPEMBED_MAX_ITEMS")
      ->check(CLI::Range(size_t{1}, size_t{1} << 24));
  env(cmd->add_option("--max-text-bytes", o.max_text_bytes,
                      "bytes of one text input (default 1 MiB)"),
      "CLIPEMBED_MAX_TEXT_BYTES")
      ->check(CLI::Range(size_t{1}, size_t{1} << 30));
  env(cmd->add_option("--max-pixels", o.pool.input.decode.max_pixels,
                      "decoded image size limit (default 89478485)"),
      "CLIPEMBED_MAX_PIXELS")
      ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 40));
  env(cmd->add_option("--max-decode-bytes", o.pool.max_decode_bytes,
                      "memory of all decodes in flight; an image that does not fit now is "
                      "refused with 429, one larger than this with 413, both before allocating "
                      "(default a quarter of the memory budget)"),
      "CLIPEMBED_MAX_DECODE_BYTES")
      ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 50));
  env(cmd->add_option("--max-url-downloads", o.pool.max_url_downloads,
                      "URL inputs downloaded at once (default 16)"),
      "CLIPEMBED_MAX_URL_DOWNLOADS")
      ->check(CLI::Range(1, 4096));
  env(cmd->add_option("--url-max-bytes", o.pool.input.url.max_bytes,
                      "URL download limit (default 32 MiB)"),
      "CLIPEMBED_URL_MAX_BYTES")
      ->check(CLI::Range(size_t{1}, size_t{1} << 40));
  auto millis = [&](const char* flag, const char* variable, std::chrono::milliseconds& target,
                    const char* help) {
    env(cmd->add_option_function<int64_t>(
            flag, [&target](int64_t ms) { target = std::chrono::milliseconds(ms); }, help),
        variable)
        ->check(CLI::Range(int64_t{1}, int64_t{86'400'000}));
  };
  millis("--url-timeout-ms", "CLIPEMBED_URL_TIMEOUT_MS", o.pool.input.url.total_timeout,
         "URL download time limit (default 30000)");
  millis("--deadline-ms", "CLIPEMBED_DEADLINE_MS", o.pool.request_deadline,
         "request deadline, then 504 (default 30000)");
  millis("--grace-ms", "CLIPEMBED_GRACE_MS", o.grace,
         "on SIGTERM, the time requests in flight get before the server exits (default 30000)");
  millis("--header-timeout-ms", "CLIPEMBED_HEADER_TIMEOUT_MS", o.http.header_timeout,
         "time a request's header may take to arrive (default 10000)");
  millis("--idle-timeout-ms", "CLIPEMBED_IDLE_TIMEOUT_MS", o.http.idle_timeout,
         "idle keep-alive connections are closed after this (default 30000)");
  env(cmd->add_option("--stall-seconds", o.stall_seconds,
                      "/live fails once queued work waits this long without progress "
                      "(default 60)"),
      "CLIPEMBED_STALL_SECONDS")
      ->check(CLI::Range(0.001, 86400.0));
  env(cmd->add_option("--log-format", o.log_format, "access log on stderr: text, json or off")
          ->transform(named_choice<server::LogFormat>({{"text", server::LogFormat::kText},
                                                       {"json", server::LogFormat::kJson},
                                                       {"off", server::LogFormat::kOff}},
                                                      "log format"))
          ->type_name("{text,json,off}"),
      "CLIPEMBED_LOG_FORMAT");
  env(cmd->add_option("--default-modality", o.default_modality,
                      "what an /v1/embeddings input is when a request names no modality: auto "
                      "(decided per input), text (for LangChain and other clients that cannot "
                      "send one) or image")
          ->transform(named_choice<service::Modality>({{"auto", service::Modality::kAuto},
                                                       {"text", service::Modality::kText},
                                                       {"image", service::Modality::kImage}},
                                                      "modality"))
          ->type_name("{auto,text,image}"),
      "CLIPEMBED_DEFAULT_MODALITY");
  env(cmd->add_flag("--allow-private-urls", o.pool.input.url.allow_private_addresses,
                    "URL inputs may reach private, loopback and link-local addresses"),
      "CLIPEMBED_ALLOW_PRIVATE_URLS");
  env(cmd->add_flag_function(
          "--no-url-inputs", [&o](int64_t count) { o.allow_url_inputs = count <= 0; },
          "refuse URL inputs"),
      "CLIPEMBED_NO_URL_INPUTS");
  return [args] { return run_serve(args->options, args->threads, args->key_file); };
}

}  // namespace clipembed::cli
