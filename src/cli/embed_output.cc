#include "cli/embed_output.h"

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <vector>

#include "cli/json_lines.h"
#include "cli/npy_writer.h"
#include "clipembed/error.h"
#include "io/json_text.h"

namespace clipembed::cli {
namespace {

std::FILE* open_or_throw(const std::string& path, bool append = false) {
  std::FILE* f = std::fopen(path.c_str(), append ? "a" : "w");
  if (f == nullptr) {
    throw Error(ErrorCode::kIo, "cannot create " + path + ": " + std::strerror(errno));
  }
  return f;
}

// The complete lines of a file (up to its last newline); the file is cut to them, dropping a line
// an interruption left half-written. A missing file has no lines.
std::vector<std::string> complete_lines(const std::string& path, size_t keep = SIZE_MAX) {
  std::vector<std::string> lines;
  std::ifstream in(path, std::ios::binary);
  if (!in) return lines;
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t pos = 0, end = 0;
  while (lines.size() < keep) {
    const size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) break;
    lines.push_back(text.substr(pos, nl - pos));
    pos = end = nl + 1;
  }
  in.close();
  if (end != text.size()) std::filesystem::resize_file(path, end);
  return lines;
}

// The input (exact bytes) of each JSON line.
void add_json_inputs(std::string_view key, const std::vector<std::string>& lines,
                     std::unordered_set<std::string>* done) {
  for (const std::string& line : lines) {
    if (std::optional<std::string> input = line_input(key, line)) done->insert(std::move(*input));
  }
}

void put_line(std::FILE* f, const std::string& line) {
  std::fputs(line.c_str(), f);
  std::fputc('\n', f);
}

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
    put_line(file_, embedding_line(key_, input, embedding));
  }
  void failure(const std::string& input, std::string_view code,
               const std::string& message) override {
    put_line(file_, error_line(key_, input, code, message));
  }
  void flush() override { std::fflush(file_); }

 private:
  // For resume: records what the file already answers; returns whether to append.
  bool prepare(const std::string& path, std::unordered_set<std::string>* done) const {
    if (done == nullptr) return false;
    add_json_inputs(key_, complete_lines(path), done);
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
      : names_(names),
        matrix_(path, dimension, done != nullptr),
        paths_(open_or_throw(path + names.rows_suffix, prepare(path, done))),
        errors_(open_or_throw(path + ".errors.jsonl", done != nullptr)) {}
  ~NpyOutput() override {
    NpyOutput::flush();
    std::fclose(paths_);
    std::fclose(errors_);
  }
  void success(const std::string& input, std::span<const float> embedding) override {
    matrix_.append(embedding.data());
    put_line(paths_, io::json_string(input));
  }
  void failure(const std::string& input, std::string_view code,
               const std::string& message) override {
    put_line(errors_, error_line(names_.key, input, code, message));
  }
  void flush() override {
    // Paths first: a row is only counted in the header once its path is on disk.
    std::fflush(paths_);
    std::fflush(errors_);
    matrix_.flush();
  }

 private:
  // For resume: the header's row count is authoritative; paths past it are dropped.
  bool prepare(const std::string& path, std::unordered_set<std::string>* done) {
    if (done == nullptr) return false;
    for (const std::string& line : complete_lines(path + names_.rows_suffix, matrix_.rows())) {
      if (std::optional<std::string> input = io::parse_json_string(line)) done->insert(*input);
    }
    add_json_inputs(names_.key, complete_lines(path + ".errors.jsonl"), done);
    return true;
  }

  OutputNames names_;
  NpyWriter matrix_;
  std::FILE* paths_;
  std::FILE* errors_;
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

std::unordered_set<std::string> failed_inputs(const std::string& path, const OutputNames& names) {
  std::unordered_set<std::string> failed;
  add_json_inputs(names.key, complete_lines(path + ".errors.jsonl"), &failed);
  return failed;
}

}  // namespace clipembed::cli
