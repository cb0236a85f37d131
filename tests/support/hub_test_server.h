// Test support: a local server on 127.0.0.1 that speaks the Hugging Face hub's download scheme for
// one repository, test-org/tiny-clip (the bundled tiny model):
//   HEAD|GET /test-org/tiny-clip/resolve/REV/FILE  REV = main or the commit; JSON files answered
//     directly (ETag = a git-style id), model.safetensors by a 302 to /cdn/SHA256 carrying
//     X-Linked-Etag (its sha256) and X-Linked-Size, as the hub does for LFS files;
//   GET /cdn/SHA256  the bytes, with Range support.
// Every resolve answer carries X-Repo-Commit.
#pragma once

#include <httplib.h>

#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace clipembed::testing {

class HubTestServer {
 public:
  static constexpr const char* kRepo = "test-org/tiny-clip";
  static constexpr const char* kCommit = "0123456789abcdef0123456789abcdef01234567";

  HubTestServer();
  ~HubTestServer();
  std::string endpoint() const;  // http://127.0.0.1:PORT

  // When set, resolve requests without "Authorization: Bearer TOKEN" get 401.
  void require_token(const std::string& token);
  // Serve model.safetensors with one byte changed (its announced sha256 stays the true one).
  void corrupt_weights(bool corrupt) { corrupt_ = corrupt; }
  // Close the connection after sending this many bytes of model.safetensors (0: send it all).
  void cut_weights_after(size_t bytes) { cut_after_ = bytes; }

  const std::string& weights() const { return weights_; }
  std::string weights_sha256() const { return weights_sha256_; }
  size_t weight_bytes_sent() const { return weight_bytes_sent_; }
  std::vector<std::string> range_headers() const;

 private:
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  std::string weights_, weights_sha256_;
  mutable std::mutex mutex_;
  std::string token_;                // Guarded by mutex_.
  std::vector<std::string> ranges_;  // Guarded by mutex_.
  std::atomic<bool> corrupt_{false};
  std::atomic<size_t> cut_after_{0};
  std::atomic<size_t> weight_bytes_sent_{0};
};

}  // namespace clipembed::testing
