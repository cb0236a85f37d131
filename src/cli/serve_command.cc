// `clipembed serve`: runs the HTTP embedding service until SIGTERM or SIGINT, then drains.
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "clipembed/error.h"
#include "clipembed/runtime.h"
#include "server/http_server.h"

namespace clipembed::cli {
namespace {

constexpr const char* kServeUsage =
    "usage: clipembed serve --model REF [--model REF2 ...] [options]\n"
    "Each option can also be set by the environment variable in brackets.\n"
    "  --host H                 [CLIPEMBED_HOST] address to listen on (default 127.0.0.1)\n"
    "  --port P                 [CLIPEMBED_PORT] port (default 8080; 0 picks a free one)\n"
    "  --api-key KEY            [CLIPEMBED_API_KEY] require Authorization: Bearer KEY\n"
    "  --workers N              [CLIPEMBED_WORKERS] workers per model (default 4)\n"
    "  --threads N              [CLIPEMBED_THREADS] compute threads (default: one per core)\n"
    "  --precision P            [CLIPEMBED_PRECISION] fp32 (default) or int8 (about 2x faster)\n"
    "  --io-threads N           [CLIPEMBED_IO_THREADS] connections served at once (default 64)\n"
    "  --max-batch-size N       [CLIPEMBED_MAX_BATCH_SIZE] images per forward pass (default 8)\n"
    "  --max-queue N            [CLIPEMBED_MAX_QUEUE] queued images per model before 429 (256)\n"
    "  --max-connections N      [CLIPEMBED_MAX_CONNECTIONS] requests at once before 503 (256)\n"
    "  --max-body-bytes N       [CLIPEMBED_MAX_BODY_BYTES] request body limit (64 MiB)\n"
    "  --max-items N            [CLIPEMBED_MAX_ITEMS] inputs per request (64)\n"
    "  --max-pixels N           [CLIPEMBED_MAX_PIXELS] decoded image size limit (89478485)\n"
    "  --url-max-bytes N        [CLIPEMBED_URL_MAX_BYTES] URL download limit (32 MiB)\n"
    "  --url-timeout-ms N       [CLIPEMBED_URL_TIMEOUT_MS] URL download time limit (30000)\n"
    "  --deadline-ms N          [CLIPEMBED_DEADLINE_MS] request deadline, then 504 (30000)\n"
    "  --grace-ms N             [CLIPEMBED_GRACE_MS] drain time on SIGTERM (30000)\n"
    "  --allow-private-urls     [CLIPEMBED_ALLOW_PRIVATE_URLS=1] URL inputs may reach private,\n"
    "                           loopback and link-local addresses\n"
    "  --no-url-inputs          [CLIPEMBED_NO_URL_INPUTS=1] refuse URL inputs\n";

struct Option {
  const char* flag;
  const char* env;
  bool takes_value;
  std::function<bool(const std::string&)> apply;  // False: the value is invalid.
};

std::function<bool(const std::string&)> positive(auto* target) {
  return [target](const std::string& v) {
    char* end = nullptr;
    const long long n = std::strtoll(v.c_str(), &end, 10);
    if (end == v.c_str() || *end != '\0' || n <= 0) return false;
    *target = static_cast<std::remove_reference_t<decltype(*target)>>(n);
    return true;
  };
}

std::function<bool(const std::string&)> millis(std::chrono::milliseconds* target) {
  return [target](const std::string& v) {
    long long n = 0;
    if (!positive(&n)(v)) return false;
    *target = std::chrono::milliseconds(n);
    return true;
  };
}

}  // namespace

int serve_command(const std::vector<std::string>& args) {
  for (const std::string& a : args) {
    if (a == "--help" || a == "-h") {
      std::fputs(kServeUsage, stdout);
      return kExitOk;
    }
  }
  server::ServerOptions o;
  int threads = 0, port = o.port;
  std::vector<std::string> models;
  const std::vector<Option> table = {
      {"--model", "CLIPEMBED_MODEL", true,
       [&](const std::string& v) { return models.push_back(v), !v.empty(); }},
      {"--host", "CLIPEMBED_HOST", true, [&](const std::string& v) { return o.host = v, true; }},
      {"--port", "CLIPEMBED_PORT", true,
       [&](const std::string& v) {
         port = std::atoi(v.c_str());
         return (v == "0" || port > 0) && port < 65536;
       }},
      {"--api-key", "CLIPEMBED_API_KEY", true,
       [&](const std::string& v) { return o.api_key = v, true; }},
      {"--workers", "CLIPEMBED_WORKERS", true, positive(&o.pool.max_workers_per_model)},
      {"--threads", nullptr, true, positive(&threads)},
      {"--precision", "CLIPEMBED_PRECISION", true,
       [&](const std::string& v) { return precision_argument("serve", v, &o.pool.precision); }},
      {"--io-threads", "CLIPEMBED_IO_THREADS", true, positive(&o.io_threads)},
      {"--max-batch-size", "CLIPEMBED_MAX_BATCH_SIZE", true, positive(&o.pool.max_batch_size)},
      {"--max-queue", "CLIPEMBED_MAX_QUEUE", true, positive(&o.pool.max_queued_requests)},
      {"--max-connections", "CLIPEMBED_MAX_CONNECTIONS", true, positive(&o.max_in_flight)},
      {"--max-body-bytes", "CLIPEMBED_MAX_BODY_BYTES", true, positive(&o.max_body_bytes)},
      {"--max-items", "CLIPEMBED_MAX_ITEMS", true, positive(&o.max_items)},
      {"--max-pixels", "CLIPEMBED_MAX_PIXELS", true, positive(&o.pool.decode.max_pixels)},
      {"--url-max-bytes", "CLIPEMBED_URL_MAX_BYTES", true, positive(&o.pool.url.max_bytes)},
      {"--url-timeout-ms", "CLIPEMBED_URL_TIMEOUT_MS", true, millis(&o.pool.url.total_timeout)},
      {"--deadline-ms", "CLIPEMBED_DEADLINE_MS", true, millis(&o.request_deadline)},
      {"--grace-ms", "CLIPEMBED_GRACE_MS", true, millis(&o.grace)},
      {"--allow-private-urls", "CLIPEMBED_ALLOW_PRIVATE_URLS", false,
       [&](const std::string& v) { return o.allow_private_urls = v != "0", true; }},
      {"--no-url-inputs", "CLIPEMBED_NO_URL_INPUTS", false,
       [&](const std::string& v) { return o.allow_url_inputs = v == "0", true; }},
  };
  // The environment first, then flags over it. CLIPEMBED_MODEL may list several, comma-separated.
  for (const Option& opt : table) {
    const char* v = opt.env != nullptr ? std::getenv(opt.env) : nullptr;
    if (v == nullptr || *v == '\0') continue;
    if (std::string(opt.env) == "CLIPEMBED_MODEL") {
      std::istringstream list(v);
      for (std::string model; std::getline(list, model, ',');) {
        if (!model.empty()) models.push_back(model);
      }
    } else if (!opt.apply(v)) {
      std::fprintf(stderr, "clipembed serve: invalid %s='%s'\n", opt.env, v);
      return kExitUsage;
    }
  }
  bool models_from_flags = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const Option* match = nullptr;
    for (const Option& opt : table) {
      if (args[i] == opt.flag) match = &opt;
    }
    if (match == nullptr || (match->takes_value && i + 1 == args.size())) {
      std::fprintf(stderr, "clipembed serve: unexpected argument '%s'\n%s", args[i].c_str(),
                   kServeUsage);
      return kExitUsage;
    }
    if (std::string(match->flag) == "--model" && !models_from_flags) {
      models.clear();  // Flags replace the environment's list.
      models_from_flags = true;
    }
    const std::string value = match->takes_value ? args[++i] : "1";
    if (!match->apply(value)) {
      std::fprintf(stderr, "clipembed serve: invalid value '%s' for %s\n", value.c_str(),
                   match->flag);
      return kExitUsage;
    }
  }
  if (models.empty()) {
    std::fputs(kServeUsage, stderr);
    return kExitUsage;
  }
  o.models = models;
  o.port = port;

  // Every thread created from here on inherits the blocked signals; this thread takes them with
  // sigwait, so no handler runs in the middle of a request.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  shared_runtime(RuntimeOptions{.threads = threads});
  try {
    server::EmbeddingServer server(o);
    const int bound = server.start();
    std::fprintf(stderr, "clipembed serve: models %s (default) and %zu more; loading\n",
                 models.front().c_str(), models.size() - 1);
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

}  // namespace clipembed::cli
