// Internal: embeddings on disk as `clipembed embed --output FILE.npy` writes them, shared by the
// CLI's npy output and the search index: FILE (float32 [N, D]), FILE + rows_suffix (the N inputs
// in row order, one JSON string per line) and FILE.errors.jsonl (one JSON line per failure).
// Inputs are written by io::json_string, so any file name reads back exactly. Valid after every
// flush(); an interrupted run leaves files a resumed one continues.
#pragma once

#include <cstdint>
#include <cstdio>
#include <span>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "io/npy_writer.h"

namespace clipembed::io {

// The complete lines of a file (up to its last newline, at most `keep`); the file is cut to them,
// dropping a line an interruption left half-written. A missing file has no lines.
std::vector<std::string> complete_lines(const std::string& path, size_t keep = SIZE_MAX);

// Adds the input (exact bytes) of each JSON line (io/json_lines.h, first field `key`) to `done`.
void add_line_inputs(std::string_view key, const std::vector<std::string>& lines,
                     std::unordered_set<std::string>* done);

// Opens a file for writing (appending), or throws Error(kIo) naming it.
std::FILE* open_or_throw(const std::string& path, bool append = false);
void put_line(std::FILE* f, const std::string& line);

// Not thread-safe: one writer per file set.
class EmbeddingFile {
 public:
  // Creates the files for rows of `dimension` floats, or with `done` reopens existing ones and
  // appends, `done` receiving every input they already answer (embedded or failed); the header's
  // row count is authoritative and rows or paths past it are dropped. Throws Error.
  EmbeddingFile(const std::string& path, int dimension, std::unordered_set<std::string>* done,
                std::string key = "path", const std::string& rows_suffix = ".paths.txt");
  ~EmbeddingFile();
  EmbeddingFile(const EmbeddingFile&) = delete;
  EmbeddingFile& operator=(const EmbeddingFile&) = delete;

  void success(const std::string& input, std::span<const float> embedding);
  void failure(const std::string& input, std::string_view code, const std::string& message);
  // Paths first, then errors, then the matrix's header: a row is only counted once its path is
  // on disk.
  void flush();
  int64_t rows() const { return matrix_.rows(); }

 private:
  std::string key_;
  NpyWriter matrix_;
  std::FILE* paths_;
  std::FILE* errors_;
};

// The inputs an npy output's errors file (path + ".errors.jsonl") names, by exact bytes.
std::unordered_set<std::string> failed_inputs(const std::string& path,
                                              std::string_view key = "path");

}  // namespace clipembed::io
