#include "io/embedding_file.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>

#include "clipembed/error.h"
#include "io/json_lines.h"
#include "io/json_text.h"

namespace clipembed::io {
namespace {

[[noreturn]] void untrusted(const std::string& path, size_t line, const std::string& why) {
  throw Error(ErrorCode::kInvalidArgument,
              path + " line " + std::to_string(line + 1) + " " + why +
                  ": cannot resume from it (remove the output, or --output elsewhere)");
}

// Opens `path` to append after its first `keep` bytes (cutting the rest), or creates it.
std::unique_ptr<AppendFile> open_at(const std::string& path, std::optional<uint64_t> keep) {
  auto file = std::make_unique<AppendFile>(path, keep.has_value());
  if (keep) file->cut(*keep);
  return file;
}

}  // namespace

Lines complete_lines(const std::string& path) {
  Lines lines;
  std::ifstream in(path, std::ios::binary);
  if (!in) return lines;
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t pos = 0;
  for (size_t nl = text.find('\n'); nl != std::string::npos; nl = text.find('\n', pos)) {
    lines.text.push_back(text.substr(pos, nl - pos));
    pos = nl + 1;
    lines.end.push_back(pos);
  }
  return lines;
}

std::vector<std::string> read_row_lines(const std::string& rows_path, size_t rows, ErrorCode code) {
  std::error_code ec;
  if (!std::filesystem::exists(rows_path, ec)) throw Error(code, rows_path + " is missing");
  Lines lines = complete_lines(rows_path);
  if (lines.text.size() < rows) {
    throw Error(code, rows_path + " names " + std::to_string(lines.text.size()) + " of " +
                          std::to_string(rows) + " rows");
  }
  lines.text.resize(rows);
  return std::move(lines.text);
}

std::vector<std::string> read_row_inputs(const std::string& rows_path, size_t rows,
                                         ErrorCode code) {
  std::vector<std::string> inputs = read_row_lines(rows_path, rows, code);
  for (size_t i = 0; i < inputs.size(); ++i) {
    std::optional<std::string> text = parse_json_string(inputs[i]);
    if (!text) {
      throw Error(code, rows_path + " line " + std::to_string(i + 1) + " is not a JSON string");
    }
    inputs[i] = std::move(*text);
  }
  return inputs;
}

uint64_t resume_records(const std::string& path, std::string_view key,
                        std::unordered_set<std::string>* done) {
  const Lines lines = complete_lines(path);
  for (size_t i = 0; i < lines.text.size(); ++i) {
    std::optional<std::string> input = line_input(key, lines.text[i]);
    if (!input) untrusted(path, i, "is not a clipembed record");
    if (done != nullptr) done->insert(std::move(*input));
  }
  return lines.end.empty() ? 0 : lines.end.back();
}

EmbeddingFile::EmbeddingFile(const std::string& path, int dimension,
                             std::unordered_set<std::string>* done, std::string key,
                             const std::string& rows_suffix)
    : key_(std::move(key)), matrix_(path, dimension, done != nullptr) {
  const std::string paths_path = path + rows_suffix, errors_path = path + ".errors.jsonl";
  if (done == nullptr) {
    paths_ = open_at(paths_path, std::nullopt);
    errors_ = open_at(errors_path, std::nullopt);
    return;
  }
  // Rows are kept only where the matrix holds them (its header and its data agree: NpyWriter)
  // and the paths file names them; each kept path must read back as one.
  const Lines paths = complete_lines(paths_path);
  const auto rows = static_cast<size_t>(
      std::min<int64_t>(matrix_.rows(), static_cast<int64_t>(paths.text.size())));
  for (size_t i = 0; i < rows; ++i) {
    std::optional<std::string> input = parse_json_string(paths.text[i]);
    if (!input) untrusted(paths_path, i, "is not a JSON string");
    done->insert(std::move(*input));
  }
  matrix_.cut_to(static_cast<int64_t>(rows));
  paths_ = open_at(paths_path, rows == 0 ? 0 : paths.end[rows - 1]);
  errors_ = open_at(errors_path, resume_records(errors_path, key_, done));
}

EmbeddingFile::~EmbeddingFile() = default;

void EmbeddingFile::success(const std::string& input, std::span<const float> embedding) {
  matrix_.append(embedding.data());
  paths_->append(json_string(input) + "\n");
}

void EmbeddingFile::failure(const std::string& input, std::string_view code,
                            const std::string& message) {
  errors_->append(error_line(key_, input, code, message) + "\n");
}

void EmbeddingFile::flush() {
  try {
    // The data first; the header's row count, which makes the rows count, last.
    matrix_.sync_rows();
    paths_->sync();
    errors_->sync();
    matrix_.commit();
  } catch (const Error&) {
    // Every file back to the last commit. If the matrix's header could not be restored it may
    // count the failed batch, whose rows, paths and errors were all synced before it: then they
    // stay, so that the rows it counts keep their paths.
    if (matrix_.rollback()) {
      paths_->rollback();
      errors_->rollback();
    } else {
      paths_->drop_queued();
      errors_->drop_queued();
    }
    throw;
  }
  paths_->commit();
  errors_->commit();
}

std::unordered_set<std::string> failed_inputs(const std::string& path, std::string_view key) {
  std::unordered_set<std::string> failed;
  for (const std::string& line : complete_lines(path + ".errors.jsonl").text) {
    if (std::optional<std::string> input = line_input(key, line)) failed.insert(std::move(*input));
  }
  return failed;
}

}  // namespace clipembed::io
