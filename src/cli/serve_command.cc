// `clipembed serve`: runs the HTTP embedding service until SIGTERM or SIGINT, then drains.
#include <signal.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/options.h"
#include "clipembed/error.h"
#include "clipembed/runtime.h"
#include "server/http_server.h"

namespace clipembed::cli {
namespace {

int run_serve(server::ServerOptions o, int threads) {
  // Every thread created from here on inherits the blocked signals; this thread takes them with
  // sigwait, so no handler runs in the middle of a request.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  try {
    start_runtime(threads);
    server::EmbeddingServer server(o);
    const int bound = server.start();
    std::fprintf(stderr, "clipembed serve: models %s (default) and %zu more; loading\n",
                 o.models.front().c_str(), o.models.size() - 1);
    std::printf("clipembed serve: listening on http://%s:%d\n", o.host.c_str(), bound);
    std::fflush(stdout);
    int received = 0;
    sigwait(&signals, &received);
    std::fprintf(stderr, "clipembed serve: %s received, draining\n",
                 received == SIGTERM ? "SIGTERM" : "SIGINT");
    server.drain_and_stop();
    std::fprintf(stderr, "clipembed serve: stopped\n");
    return kExitOk;
  } catch (const Error& e) {
    return report_error("serve", e);
  }
}

}  // namespace

CommandRun add_serve_command(CLI::App& app) {
  struct Args {
    server::ServerOptions options;
    int threads = 0;
  };
  auto args = std::make_shared<Args>();
  server::ServerOptions& o = args->options;
  CLI::App* cmd = app.add_subcommand(
      "serve",
      "HTTP embedding service (OpenAI-style API). Each option can also be set by the\n"
      "environment variable in brackets.");
  auto env = [](CLI::Option* option, const char* name) { return option->envname(name); };
  env(cmd->add_option("--model", o.models,
                      "model to serve (repeatable; the first is the default); the variable "
                      "may list several, comma-separated"),
      "CLIPEMBED_MODEL")
      ->delimiter(',')
      ->required();
  env(cmd->add_option("--host", o.host, "address to listen on (default 127.0.0.1)"),
      "CLIPEMBED_HOST");
  env(cmd->add_option("--port", o.port, "port (default 8080; 0 picks a free one)"),
      "CLIPEMBED_PORT")
      ->check(CLI::Range(0, 65535));
  env(cmd->add_option("--api-key", o.api_key, "require Authorization: Bearer KEY"),
      "CLIPEMBED_API_KEY");
  env(cmd->add_option("--workers", o.pool.max_workers_per_model, "workers per model (default 4)"),
      "CLIPEMBED_WORKERS")
      ->check(CLI::Range(1, 1024));
  env(cmd->add_option("--threads", args->threads, "compute threads (default: one per core)"),
      "CLIPEMBED_THREADS")
      ->check(CLI::Range(1, 1024));
  add_precision_option(*cmd, o.pool.precision);
  cmd->get_option("--precision")->envname("CLIPEMBED_PRECISION");
  env(cmd->add_option("--io-threads", o.io_threads, "connections served at once (default 64)"),
      "CLIPEMBED_IO_THREADS")
      ->check(CLI::Range(1, 4096));
  env(cmd->add_option("--max-batch-size", o.pool.max_batch_size,
                      "images per forward pass (default 8)"),
      "CLIPEMBED_MAX_BATCH_SIZE")
      ->check(CLI::Range(1, 4096));
  env(cmd->add_option("--max-queue", o.pool.max_queued_requests,
                      "queued images per model before 429 (default 256)"),
      "CLIPEMBED_MAX_QUEUE")
      ->check(CLI::Range(size_t{1}, size_t{1} << 24));
  env(cmd->add_option("--max-connections", o.max_in_flight,
                      "requests at once before 503 (default 256)"),
      "CLIPEMBED_MAX_CONNECTIONS")
      ->check(CLI::Range(1, 1 << 24));
  env(cmd->add_option("--max-body-bytes", o.max_body_bytes, "request body limit (default 64 MiB)"),
      "CLIPEMBED_MAX_BODY_BYTES")
      ->check(CLI::Range(size_t{1}, size_t{1} << 40));
  env(cmd->add_option("--max-items", o.max_items, "inputs per request (default 64)"),
      "CLIPEMBED_MAX_ITEMS")
      ->check(CLI::Range(size_t{1}, size_t{1} << 24));
  env(cmd->add_option("--max-pixels", o.pool.input.decode.max_pixels,
                      "decoded image size limit (default 89478485)"),
      "CLIPEMBED_MAX_PIXELS")
      ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 40));
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
  millis("--deadline-ms", "CLIPEMBED_DEADLINE_MS", o.request_deadline,
         "request deadline, then 504 (default 30000)");
  millis("--grace-ms", "CLIPEMBED_GRACE_MS", o.grace, "drain time on SIGTERM (default 30000)");
  env(cmd->add_flag("--allow-private-urls", o.allow_private_urls,
                    "URL inputs may reach private, loopback and link-local addresses"),
      "CLIPEMBED_ALLOW_PRIVATE_URLS");
  env(cmd->add_flag_function(
          "--no-url-inputs", [&o](int64_t count) { o.allow_url_inputs = count <= 0; },
          "refuse URL inputs"),
      "CLIPEMBED_NO_URL_INPUTS");
  return [args] { return run_serve(args->options, args->threads); };
}

}  // namespace clipembed::cli
