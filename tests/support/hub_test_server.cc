#include "support/hub_test_server.h"

#include <chrono>
#include <map>

#include "io/file.h"
#include "io/hub_download.h"
#include "support/fixtures.h"

namespace clipembed::testing {
namespace {

std::string read_fixture(const std::string& relative) {
  const auto bytes = io::read_file(fixture_path(relative));
  return std::string(bytes.begin(), bytes.end());
}

}  // namespace

HubTestServer::HubTestServer() {
  weights_ = read_fixture("models/tiny/model.safetensors");
  weights_sha256_ = io::sha256_file(fixture_path("models/tiny/model.safetensors"));
  const std::map<std::string, std::string> small = {
      {"config.json", read_fixture("models/tiny/config.json")},
      {"preprocessor_config.json", read_fixture("models/tiny/preprocessor_config.json")}};

  const std::string prefix = std::string("/") + kRepo + "/resolve/";
  server_.Get(prefix + R"(([^/]+)/(.+))", [this, small](const httplib::Request& req,
                                                        httplib::Response& res) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!token_.empty() && req.get_header_value("Authorization") != "Bearer " + token_) {
        res.status = 401;
        res.set_content(R"({"error":"Invalid credentials"})", "application/json");
        return;
      }
    }
    const std::string revision = req.matches[1];
    const std::string file = req.matches[2];
    if (revision != "main" && revision != kCommit) {
      res.status = 404;
      res.set_header("X-Error-Code", "RevisionNotFound");
      return;
    }
    res.set_header("X-Repo-Commit", kCommit);
    if (file == "model.safetensors") {
      res.set_header("X-Linked-Etag", "\"" + weights_sha256_ + "\"");
      res.set_header("X-Linked-Size", std::to_string(weights_.size()));
      res.set_redirect("/cdn/" + weights_sha256_, 302);
      return;
    }
    const auto it = small.find(file);
    if (it == small.end()) {
      res.status = 404;
      res.set_header("X-Error-Code", "EntryNotFound");
      return;
    }
    res.set_header("ETag", "\"git-" + std::to_string(it->second.size()) + "-" + file + "\"");
    res.set_content(it->second, "application/json");
  });

  server_.Get(R"(/cdn/([0-9a-f]+))", [this](const httplib::Request& req, httplib::Response& res) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      ranges_.push_back(req.get_header_value("Range"));
    }
    std::string body = weights_;
    if (corrupt_) body[body.size() / 2] ^= 0x5A;
    // A content provider (not set_content) so the test controls how much is sent: it can stop
    // part-way and drop the connection, as a network failure would. httplib answers a Range
    // request itself (206, Content-Range), calling the provider from the range's first byte.
    res.set_content_provider(body.size(), "application/octet-stream",
                             [this, body](size_t offset, size_t size, httplib::DataSink& sink) {
                               const size_t cut = cut_after_;
                               size_t n = std::min<size_t>(size, 64 << 10);
                               if (cut > 0 && weight_bytes_sent_ + n > cut) {
                                 n = cut > weight_bytes_sent_ ? cut - weight_bytes_sent_ : 0;
                                 if (n > 0) sink.write(body.data() + offset, n);
                                 weight_bytes_sent_ += n;
                                 return false;  // Drops the connection.
                               }
                               sink.write(body.data() + offset, n);
                               weight_bytes_sent_ += n;
                               return true;
                             });
  });
  server_.set_keep_alive_max_count(1);
  port_ = server_.bind_to_any_port("127.0.0.1");
  thread_ = std::thread([this] { server_.listen_after_bind(); });
  while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

HubTestServer::~HubTestServer() {
  server_.stop();
  thread_.join();
}

std::string HubTestServer::endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }

void HubTestServer::require_token(const std::string& token) {
  std::lock_guard<std::mutex> lock(mutex_);
  token_ = token;
}

std::vector<std::string> HubTestServer::range_headers() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return ranges_;
}

}  // namespace clipembed::testing
