// Internal: a float32 [N, D] .npy file written row by row, valid after every flush.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>

namespace clipembed::io {

// The shape of a float32 [rows, cols] .npy file (versions 1 to 3, little-endian, C order) and
// where its data starts. Throws Error(kInvalidArgument) naming the file when it is anything else
// or its data is not exactly rows x cols floats (a truncated or unfinished file).
struct NpyShape {
  size_t rows = 0;
  size_t cols = 0;
  size_t data_offset = 0;
};
NpyShape read_npy_shape(const std::string& path);

// Not thread-safe: one writer per output file, used by the CLI's output thread.
class NpyWriter {
 public:
  // Creates (truncates) `path` for rows of `dim` floats; with `resume`, reopens an existing file
  // written by this class instead, keeping the rows its header counts (bytes past them, from an
  // interrupted write, are cut). Throws Error(kIo, or kInvalidArgument for a mismatched file).
  NpyWriter(const std::string& path, int dim, bool resume = false);
  ~NpyWriter();
  NpyWriter(const NpyWriter&) = delete;
  NpyWriter& operator=(const NpyWriter&) = delete;

  void append(const float* row);
  // Rewrites the header with the current row count and flushes, so an interrupted run leaves a
  // file numpy.load() reads, holding every row appended so far.
  void flush();
  int64_t rows() const { return rows_; }

 private:
  void write_header();
  void reopen();

  std::string path_;
  std::FILE* file_ = nullptr;
  int dim_ = 0;
  int64_t rows_ = 0;
};

}  // namespace clipembed::io
