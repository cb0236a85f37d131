// Helpers of the hostile-client tests: a served tiny model, raw requests on new connections,
// /metrics values, request bodies (base64 images, gzip) and a raised descriptor limit.
#pragma once

#include <sys/resource.h>
#include <zlib.h>

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>

#include "io/base64.h"
#include "io/file.h"
#include "server/http_server.h"
#include "support/fixtures.h"
#include "support/raw_http.h"
#include "support/served_server.h"

namespace clipembed::server::hostile {

using testing::fixture_path;
using testing::http_request;
using testing::RawConnection;

inline ServerOptions options() {
  ServerOptions o;
  o.port = 0;
  o.models = {fixture_path("models/tiny")};
  o.log_format = LogFormat::kOff;
  return o;
}

using Served = testing::ServedServer;

inline std::string image_body(const std::string& fixture) {
  const auto bytes = io::read_file(fixture_path(fixture));
  return nlohmann::json{{"input", io::encode_base64(bytes.data(), bytes.size())}}.dump();
}

inline std::string gzip(const std::string& data) {
  z_stream z{};
  deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&z, data.size()), '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

inline void raise_fd_limit() {
  rlimit limit{};
  getrlimit(RLIMIT_NOFILE, &limit);
  limit.rlim_cur = limit.rlim_max;
  setrlimit(RLIMIT_NOFILE, &limit);
}

}  // namespace clipembed::server::hostile
