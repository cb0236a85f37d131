// Internal: everything `clipembed serve` can be told (each is a flag and an environment variable;
// see cli/serve_command.cc).
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

#include "clipembed/pool.h"
#include "server/access_log.h"
#include "server/http_connection.h"
#include "service/inputs.h"

namespace clipembed::server {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;                   // 0 picks a free port (see EmbeddingServer::start).
  std::vector<std::string> models;   // --model specs, NAME=REF or REF; the first is the default.
  std::vector<std::string> aliases;  // --served-model-name specs, ALIAS=NAME or ALIAS.
  std::vector<std::string> indexes;  // --index specs, NAME=DIR: searched by POST /v1/search.
  size_t max_search_k = 1000;        // Results one search may ask for.
  bool ui = true;       // The search page (GET / and /ui) while an index is served (--no-ui: off).
  std::string api_key;  // When set, API routes need "Authorization: Bearer KEY".
  // I/O threads: each serves any number of connections, so two keep up with a machine's worth
  // of compute; more only help with many slow TLS-less clients.
  int io_threads = 2;
  size_t max_connections = 10000;    // Open connections; past it a new one gets 503 and is closed.
  int max_in_flight = 1024;          // API requests being answered at once; more get 503.
  size_t max_items = 2048;           // Inputs per request (OpenAI's limit).
  size_t max_text_bytes = 1u << 20;  // Bytes of one text input.
  std::chrono::milliseconds grace{30000};  // Draining on SIGTERM: the bound on the whole exit.
  double stall_seconds = 60;  // /live fails once queued work waits this long without progress.
  bool allow_url_inputs = true;
  bool normalize = true;  // Unit vectors unless a request says "normalize": false.
  // What an /v1/embeddings input is when the request names no "modality": decided per input
  // (kAuto), or always a text (for clients that cannot send "modality" and embed documents that
  // may look like URLs: LangChain, LlamaIndex) or always an image.
  service::Modality default_modality = service::Modality::kAuto;
  LogFormat log_format = LogFormat::kText;
  HttpLimits http;  // Header, body and connection limits and timeouts.
  // Workers, batching, the queue and a request's deadline, the decode budget, image pixel and URL
  // limits (whether URL inputs may reach private addresses too).
  PoolOptions pool;
};

}  // namespace clipembed::server
