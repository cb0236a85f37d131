// Internal: where `clipembed embed` and `embed-text` write their results, one call per input in
// input order.
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
  virtual void success(const std::string& input, std::span<const float> embedding) = 0;
  virtual void failure(const std::string& input, std::string_view code,
                       const std::string& message) = 0;
  // Makes everything written so far durable and readable (called after each group of inputs).
  virtual void flush() = 0;
};

// What the inputs are called: the JSON field ("path", or "text") and the npy side file's suffix.
struct OutputNames {
  std::string key = "path";
  std::string rows_suffix = ".paths.txt";
};

// Chooses the output from `path` ("" or "-": JSON Lines on stdout) and `format` ("jsonl", "npy",
// or "" to go by the extension). npy writes FILE (float32 [N, D]), FILE.paths.txt (the N inputs
// in row order, one JSON string per line) and FILE.errors.jsonl (one line per failure). Inputs
// are written by io::json_string, so any file name (a newline in it, bytes that are not UTF-8)
// reads back exactly. Throws Error(kInvalidArgument or kIo). With `done` (resume), existing files
// are kept and appended to, and `done` receives every input they already answer (embedded or
// failed, by exact bytes); a line or row cut short by an interruption is dropped.
std::unique_ptr<EmbedOutput> make_embed_output(const std::string& path, std::string format,
                                               int dimension,
                                               std::unordered_set<std::string>* done = nullptr,
                                               const OutputNames& names = {});

}  // namespace clipembed::cli
