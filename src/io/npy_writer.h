// Internal: a float32 [N, D] .npy file written row by row, valid after every flush.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "io/durable_file.h"

namespace clipembed::io {

// The shape of a float32 [rows, cols] .npy file (versions 1 to 3, little-endian, C order) and
// where its data starts. The header's row count is what the file holds: bytes past those rows
// belong to a batch that never committed and are ignored, as numpy.load ignores them. Throws
// Error(kInvalidArgument) naming the file when it is anything else or holds fewer than rows x
// cols floats (a truncated file).
struct NpyShape {
  size_t rows = 0;
  size_t cols = 0;
  size_t data_offset = 0;
};
NpyShape read_npy_shape(const std::string& path);

// A float32 [N, D] .npy file written in commits (io/durable_file.h): appended rows become part of
// the file at commit(), their data made durable before the header's row count (the record that
// counts them) is rewritten. Not thread-safe: one writer per output file.
class NpyWriter {
 public:
  // Creates (truncates) `path` for rows of `dim` floats; with `resume`, reopens an existing file
  // written by this class, keeping the rows both its header and its data hold (a row cut short,
  // or rows past the header's count, from an interrupted write, are cut; cut_to() may keep
  // fewer). Throws Error(kIo, or kInvalidArgument for a file that is not such an output or has
  // another dimension).
  NpyWriter(const std::string& path, int dim, bool resume = false);
  ~NpyWriter();
  NpyWriter(const NpyWriter&) = delete;
  NpyWriter& operator=(const NpyWriter&) = delete;

  // On resume: keeps only the first `rows` rows (at most rows()).
  void cut_to(int64_t rows);
  // Queues a row (written at the next sync_rows() or commit()).
  void append(const float* row);
  // Writes the queued rows and makes them durable; the header does not count them yet.
  void sync_rows();
  // sync_rows(), then the header's row count rewritten (durable): the rows are part of the file.
  void commit();
  // Cuts the file back to its last commit; true when it did. False (nothing cut) only when a
  // commit failed in writing the header and the header could not be restored either: it may
  // then count the rows of the failed batch, whose data is all there. Never throws.
  bool rollback() noexcept;
  // Committed rows.
  int64_t rows() const { return rows_; }

 private:
  std::string header() const;

  int dim_ = 0;
  int64_t rows_ = 0;           // Committed.
  int64_t pending_ = 0;        // Appended since.
  bool header_dirty_ = false;  // A header write failed: the header may not say rows_.
  std::unique_ptr<AppendFile> file_;
};

}  // namespace clipembed::io
