// Internal: SHA-256 digests (OpenSSL), for downloaded files and index fingerprints.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

struct evp_md_ctx_st;

namespace clipembed::io {

// Not thread-safe: one digest per object.
class Sha256 {
 public:
  Sha256();  // Throws Error(kInternal) when OpenSSL has no SHA-256.
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void update(std::string_view bytes);
  // The digest of everything given, as 64 lowercase hex digits; ends the digest.
  std::string hex();

 private:
  evp_md_ctx_st* context_;
};

}  // namespace clipembed::io
