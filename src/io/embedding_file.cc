#include "io/embedding_file.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "clipembed/error.h"
#include "io/json_lines.h"
#include "io/json_text.h"

namespace clipembed::io {

std::FILE* open_or_throw(const std::string& path, bool append) {
  std::FILE* f = std::fopen(path.c_str(), append ? "a" : "w");
  if (f == nullptr) {
    throw Error(ErrorCode::kIo, "cannot create " + path + ": " + std::strerror(errno));
  }
  return f;
}

void put_line(std::FILE* f, const std::string& line) {
  std::fputs(line.c_str(), f);
  std::fputc('\n', f);
}

std::vector<std::string> complete_lines(const std::string& path, size_t keep) {
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

void add_line_inputs(std::string_view key, const std::vector<std::string>& lines,
                     std::unordered_set<std::string>* done) {
  for (const std::string& line : lines) {
    if (std::optional<std::string> input = line_input(key, line)) done->insert(std::move(*input));
  }
}

namespace {

// For resume: records what the files already answer; the header's row count is authoritative,
// so paths past it are dropped. Returns whether to append.
bool prepare(const std::string& path, const std::string& rows_suffix, std::string_view key,
             int64_t rows, std::unordered_set<std::string>* done) {
  if (done == nullptr) return false;
  for (const std::string& line : complete_lines(path + rows_suffix, static_cast<size_t>(rows))) {
    if (std::optional<std::string> input = parse_json_string(line)) done->insert(*input);
  }
  add_line_inputs(key, complete_lines(path + ".errors.jsonl"), done);
  return true;
}

}  // namespace

EmbeddingFile::EmbeddingFile(const std::string& path, int dimension,
                             std::unordered_set<std::string>* done, std::string key,
                             const std::string& rows_suffix)
    : key_(std::move(key)),
      matrix_(path, dimension, done != nullptr),
      paths_(open_or_throw(path + rows_suffix,
                           prepare(path, rows_suffix, key_, matrix_.rows(), done))),
      errors_(open_or_throw(path + ".errors.jsonl", done != nullptr)) {}

EmbeddingFile::~EmbeddingFile() {
  EmbeddingFile::flush();
  std::fclose(paths_);
  std::fclose(errors_);
}

void EmbeddingFile::success(const std::string& input, std::span<const float> embedding) {
  matrix_.append(embedding.data());
  put_line(paths_, json_string(input));
}

void EmbeddingFile::failure(const std::string& input, std::string_view code,
                            const std::string& message) {
  put_line(errors_, error_line(key_, input, code, message));
}

void EmbeddingFile::flush() {
  std::fflush(paths_);
  std::fflush(errors_);
  matrix_.flush();
}

std::unordered_set<std::string> failed_inputs(const std::string& path, std::string_view key) {
  std::unordered_set<std::string> failed;
  add_line_inputs(key, complete_lines(path + ".errors.jsonl"), &failed);
  return failed;
}

}  // namespace clipembed::io
