// Internal: where `clipembed embed` writes its results, one call per input in input order.
#pragma once

#include <cstdio>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_set>

namespace clipembed::cli {

class EmbedOutput {
 public:
  virtual ~EmbedOutput() = default;
  virtual void success(const std::string& path, std::span<const float> embedding) = 0;
  virtual void failure(const std::string& path, std::string_view code,
                       const std::string& message) = 0;
  // Makes everything written so far durable and readable (called after each group of inputs).
  virtual void flush() = 0;
};

// Chooses the output from `path` ("" or "-": JSON Lines on stdout) and `format` ("jsonl", "npy",
// or "" to go by the extension). npy writes FILE (float32 [N, D]), FILE.paths.txt (the N paths in
// row order) and FILE.errors.jsonl (one line per failure). Throws Error(kInvalidArgument or kIo).
// With `done` (resume), existing files are kept and appended to, and `done` receives every input
// they already answer (embedded or failed); a line or row cut short by an interruption is dropped.
std::unique_ptr<EmbedOutput> make_embed_output(const std::string& path, std::string format,
                                               int dimension,
                                               std::unordered_set<std::string>* done = nullptr);

}  // namespace clipembed::cli
