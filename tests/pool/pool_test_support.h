// Helpers shared by the model pool's tests: a small pool over the tiny fixture models, the
// process's thread count, an independent base64 encoder and the code an Error carries.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

#include "clipembed/error.h"
#include "clipembed/pool.h"
#include "io/file.h"
#include "support/fixtures.h"

namespace clipembed::testing {

inline int thread_count() {
  int n = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator("/proc/self/task"))
    ++n;
  return n;
}

inline std::string base64_of_file(const std::string& path) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const auto bytes = io::read_file(path);
  std::string out;
  for (size_t i = 0; i < bytes.size(); i += 3) {
    uint32_t group = bytes[i] << 16;
    if (i + 1 < bytes.size()) group |= bytes[i + 1] << 8;
    if (i + 2 < bytes.size()) group |= bytes[i + 2];
    out += kAlphabet[(group >> 18) & 63];
    out += kAlphabet[(group >> 12) & 63];
    out += i + 1 < bytes.size() ? kAlphabet[(group >> 6) & 63] : '=';
    out += i + 2 < bytes.size() ? kAlphabet[group & 63] : '=';
  }
  return out;
}

inline ErrorCode code_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.code();
  }
  return ErrorCode::kInternal;
}

inline PoolOptions small_pool() {
  PoolOptions options;
  options.model_directories["tiny"] = fixture_path("models/tiny");
  options.model_directories["tiny-p16"] = fixture_path("models/tiny-p16");
  options.model_directories["tiny-gelu"] = fixture_path("models/tiny-gelu");
  options.model_directories["tiny-clip"] = fixture_path("models/tiny-clip");
  // The URL tests serve images from 127.0.0.1, which the default guard refuses.
  options.input.url.allow_private_addresses = true;
  return options;
}

}  // namespace clipembed::testing
