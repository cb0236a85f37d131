#include "cli/embed_output.h"

#include <cstdio>

#include "clipembed/error.h"
#include "io/embedding_file.h"
#include "io/json_lines.h"

namespace clipembed::cli {
namespace {

// JSON lines on stdout, or in a file written in commits (io/durable_file.h): a failed flush cuts
// the file back to the last complete batch, and a resume verifies every line it keeps.
class JsonLinesOutput : public EmbedOutput {
 public:
  JsonLinesOutput(const std::string& path, const OutputNames& names,
                  std::unordered_set<std::string>* done)
      : key_(names.key) {
    if (path.empty() || path == "-") return;
    file_ = std::make_unique<io::AppendFile>(path, done != nullptr);
    if (done != nullptr) file_->cut(io::resume_records(path, key_, done));
  }
  ~JsonLinesOutput() override { std::fflush(stdout); }
  void success(const std::string& input, std::span<const float> embedding) override {
    write(io::embedding_line(key_, input, embedding));
  }
  void failure(const std::string& input, std::string_view code,
               const std::string& message) override {
    write(io::error_line(key_, input, code, message));
  }
  void flush() override {
    if (file_ == nullptr) {
      std::fflush(stdout);
      return;
    }
    try {
      file_->sync();
    } catch (const Error&) {
      file_->rollback();
      throw;
    }
    file_->commit();
  }

 private:
  void write(const std::string& line) {
    if (file_ != nullptr) {
      file_->append(line + "\n");
    } else {
      std::fputs(line.c_str(), stdout);
      std::fputc('\n', stdout);
    }
  }

  std::string key_;
  std::unique_ptr<io::AppendFile> file_;  // Null: stdout.
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
