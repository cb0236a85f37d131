// Internal: embeddings on disk as `clipembed embed --output FILE.npy` writes them, shared by the
// CLI's npy output, the search index and the Python package: FILE (float32 [N, D]), FILE +
// rows_suffix (the N inputs in row order, one JSON string per line) and FILE.errors.jsonl (one
// JSON line per failure). Inputs are written by io::json_string, so any file name reads back
// exactly. Written in commits (io/durable_file.h): after every flush() the files hold exactly the
// complete batches so far, after a failed one exactly those before it; a resumed run verifies
// what it keeps.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "clipembed/error.h"
#include "io/durable_file.h"
#include "io/npy_writer.h"

namespace clipembed::io {

// The complete lines of a file (each ending in a newline) and the byte offset after each. A
// missing file has none.
struct Lines {
  std::vector<std::string> text;
  std::vector<uint64_t> end;  // end[i]: the offset just past line i's newline.
};
Lines complete_lines(const std::string& path);

// The first `rows` lines of an output's rows file (FILE + ".paths.txt", an index's
// vectors.npy.paths.txt) as written: one JSON string each; lines past them are an unfinished
// batch's. Throws Error(`code`) naming the file when it is missing or names fewer rows. The one
// reader of the files EmbeddingFile writes (the merge of shards copies the lines as they are).
std::vector<std::string> read_row_lines(const std::string& rows_path, size_t rows, ErrorCode code);
// The same lines decoded (each row's input, any bytes): Error(`code`) for a malformed one.
std::vector<std::string> read_row_inputs(const std::string& rows_path, size_t rows, ErrorCode code);

// For resuming a JSON-lines file of records (io/json_lines.h, first field `key`): every complete
// line must be such a record (else Error(kInvalidArgument) naming the file and line: a file that
// was not written by clipembed, or was damaged, is never guessed at); a line an interruption left
// half-written is cut off the file. Adds each record's input to `done` (if given) and returns
// the file's size after the cut.
uint64_t resume_records(const std::string& path, std::string_view key,
                        std::unordered_set<std::string>* done);

// Not thread-safe: one writer per file set.
class EmbeddingFile {
 public:
  // Creates the files for rows of `dimension` floats, or with `done` reopens existing ones and
  // appends, `done` receiving every input they already answer (embedded or failed). What a
  // resume keeps is verified: the rows both the header and the data hold and the paths file
  // names (the fewest of the three), records that parse; the rest, left by an interrupted batch,
  // is cut and will be computed again. Throws Error (kInvalidArgument for files it cannot trust).
  EmbeddingFile(const std::string& path, int dimension, std::unordered_set<std::string>* done,
                std::string key = "path", const std::string& rows_suffix = ".paths.txt");
  ~EmbeddingFile();
  EmbeddingFile(const EmbeddingFile&) = delete;
  EmbeddingFile& operator=(const EmbeddingFile&) = delete;

  // Queue a result (written at the next flush(); dropped if there is none).
  void success(const std::string& input, std::span<const float> embedding);
  void failure(const std::string& input, std::string_view code, const std::string& message);
  // Commits the queued results: the rows' data, the paths and errors, all made durable, then the
  // header's row count. On a failure every file is cut back to the last commit before the error
  // (naming the file and the OS reason) is thrown.
  void flush();
  int64_t rows() const { return matrix_.rows(); }

 private:
  std::string key_;
  NpyWriter matrix_;
  std::unique_ptr<AppendFile> paths_;
  std::unique_ptr<AppendFile> errors_;
};

// The inputs an npy output's errors file (path + ".errors.jsonl") names, by exact bytes.
std::unordered_set<std::string> failed_inputs(const std::string& path,
                                              std::string_view key = "path");

}  // namespace clipembed::io
