#include "cli/embed_output.h"

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <vector>

#include "clipembed/error.h"
#include "io/embedding_file.h"
#include "io/json_lines.h"
#include "io/json_text.h"

namespace clipembed::cli {
namespace {

using io::complete_lines;
using io::open_or_throw;
using io::put_line;

class JsonLinesOutput : public EmbedOutput {
 public:
  JsonLinesOutput(const std::string& path, const OutputNames& names,
                  std::unordered_set<std::string>* done)
      : key_(names.key),
        file_(path.empty() || path == "-" ? stdout : open_or_throw(path, prepare(path, done))),
        owned_(file_ != stdout) {}
  ~JsonLinesOutput() override {
    std::fflush(file_);
    if (owned_) std::fclose(file_);
  }
  void success(const std::string& input, std::span<const float> embedding) override {
    put_line(file_, io::embedding_line(key_, input, embedding));
  }
  void failure(const std::string& input, std::string_view code,
               const std::string& message) override {
    put_line(file_, io::error_line(key_, input, code, message));
  }
  void flush() override { std::fflush(file_); }

 private:
  // For resume: records what the file already answers; returns whether to append.
  bool prepare(const std::string& path, std::unordered_set<std::string>* done) const {
    if (done == nullptr) return false;
    io::add_line_inputs(key_, complete_lines(path), done);
    return true;
  }

  std::string key_;
  std::FILE* file_;
  bool owned_;
};

class NpyOutput : public EmbedOutput {
 public:
  NpyOutput(const std::string& path, int dimension, const OutputNames& names,
            std::unordered_set<std::string>* done)
      : file_(path, dimension, done, names.key, names.rows_suffix) {}
  void success(const std::string& input, std::span<const float> embedding) override {
    file_.success(input, embedding);
  }
  void failure(const std::string& input, std::string_view code,
               const std::string& message) override {
    file_.failure(input, code, message);
  }
  void flush() override { file_.flush(); }

 private:
  io::EmbeddingFile file_;
};

}  // namespace

std::unique_ptr<EmbedOutput> make_embed_output(const std::string& path, std::string format,
                                               int dimension, std::unordered_set<std::string>* done,
                                               const OutputNames& names) {
  if (done != nullptr && (path.empty() || path == "-")) {
    throw Error(ErrorCode::kInvalidArgument, "--resume needs --output FILE");
  }
  if (format.empty()) {
    format = path.size() > 4 && path.compare(path.size() - 4, 4, ".npy") == 0 ? "npy" : "jsonl";
  }
  if (format == "jsonl") return std::make_unique<JsonLinesOutput>(path, names, done);
  if (format == "npy") {
    if (path.empty() || path == "-") {
      throw Error(ErrorCode::kInvalidArgument, "npy output needs --output FILE");
    }
    return std::make_unique<NpyOutput>(path, dimension, names, done);
  }
  throw Error(ErrorCode::kInvalidArgument, "unknown output format '" + format + "' (jsonl, npy)");
}

}  // namespace clipembed::cli
