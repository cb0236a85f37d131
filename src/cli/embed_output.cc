#include "cli/embed_output.h"

#include <cerrno>
#include <cstring>

#include "cli/json_lines.h"
#include "cli/npy_writer.h"
#include "clipembed/error.h"

namespace clipembed::cli {
namespace {

std::FILE* open_or_throw(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) {
    throw Error(ErrorCode::kIo, "cannot create " + path + ": " + std::strerror(errno));
  }
  return f;
}

void put_line(std::FILE* f, const std::string& line) {
  std::fputs(line.c_str(), f);
  std::fputc('\n', f);
}

class JsonLinesOutput : public EmbedOutput {
 public:
  explicit JsonLinesOutput(const std::string& path)
      : file_(path.empty() || path == "-" ? stdout : open_or_throw(path)),
        owned_(file_ != stdout) {}
  ~JsonLinesOutput() override {
    std::fflush(file_);
    if (owned_) std::fclose(file_);
  }
  void success(const std::string& path, std::span<const float> embedding) override {
    put_line(file_, embedding_line(path, embedding));
  }
  void failure(const std::string& path, std::string_view code,
               const std::string& message) override {
    put_line(file_, error_line(path, code, message));
  }
  void flush() override { std::fflush(file_); }

 private:
  std::FILE* file_;
  bool owned_;
};

class NpyOutput : public EmbedOutput {
 public:
  NpyOutput(const std::string& path, int dimension)
      : matrix_(path, dimension),
        paths_(open_or_throw(path + ".paths.txt")),
        errors_(open_or_throw(path + ".errors.jsonl")) {}
  ~NpyOutput() override {
    NpyOutput::flush();
    std::fclose(paths_);
    std::fclose(errors_);
  }
  void success(const std::string& path, std::span<const float> embedding) override {
    matrix_.append(embedding.data());
    put_line(paths_, path);
  }
  void failure(const std::string& path, std::string_view code,
               const std::string& message) override {
    put_line(errors_, error_line(path, code, message));
  }
  void flush() override {
    // Paths first: a row is only counted in the header once its path is on disk.
    std::fflush(paths_);
    std::fflush(errors_);
    matrix_.flush();
  }

 private:
  NpyWriter matrix_;
  std::FILE* paths_;
  std::FILE* errors_;
};

}  // namespace

std::unique_ptr<EmbedOutput> make_embed_output(const std::string& path, std::string format,
                                               int dimension) {
  if (format.empty()) {
    format = path.size() > 4 && path.compare(path.size() - 4, 4, ".npy") == 0 ? "npy" : "jsonl";
  }
  if (format == "jsonl") return std::make_unique<JsonLinesOutput>(path);
  if (format == "npy") {
    if (path.empty() || path == "-") {
      throw Error(ErrorCode::kInvalidArgument, "npy output needs --output FILE");
    }
    return std::make_unique<NpyOutput>(path, dimension);
  }
  throw Error(ErrorCode::kInvalidArgument, "unknown output format '" + format + "' (jsonl, npy)");
}

}  // namespace clipembed::cli
