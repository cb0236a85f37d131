// Internal: the one way clipembed writes files that must survive a failure: embedding outputs and
// their side files (io/embedding_file.h, the CLI's JSON lines), index directories, shard
// manifests and merges, Dask partitions (through the Python binding) and model downloads.
//
// The discipline:
//   - every write is checked; a failure throws Error(kIo) naming the file and the OS reason with
//     its errno name ("cannot write out.npy: No space left on device (ENOSPC)");
//   - appended data becomes part of a file only at commit(): data first, made durable (fsync),
//     then the record that says it is complete (an npy header's row count, written last by the
//     caller), so a reader never counts what is not on disk;
//   - on a failure, rollback() cuts each file back to its last commit, so the outputs are exactly
//     those of the last complete batch when the process exits;
//   - whole files (manifests, index.json, search structures) are replaced atomically: written
//     under a temporary name next to the target, made durable, renamed over it, and the directory
//     synced.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace clipembed::io {

// The OS's words for an errno value with its name: "No space left on device (ENOSPC)".
std::string os_reason(int error_number);

// Throws Error(kIo): "<what> <path>: <os_reason(error_number)>".
[[noreturn]] void throw_os_error(std::string_view what, const std::string& path, int error_number);

// A file written at its end, in commits. Not thread-safe: one writer per file.
class AppendFile {
 public:
  // Creates (truncates) `path`, or with `keep` opens it for appending with its current bytes as
  // the last commit (after the caller has cut it to what it verified). Throws Error(kIo).
  AppendFile(std::string path, bool keep);
  ~AppendFile();
  AppendFile(const AppendFile&) = delete;
  AppendFile& operator=(const AppendFile&) = delete;

  // Queues bytes after everything written or queued so far (nothing reaches the file before
  // sync()).
  void append(std::string_view bytes);
  // Writes the queued bytes and makes the whole file durable (fsync). Throws on any failure;
  // what was written of the queue is then past the last commit and goes with rollback().
  void sync();
  // Overwrites bytes in place (an npy header), then makes the file durable.
  void write_at(uint64_t offset, std::string_view bytes);
  // Everything synced so far is the new last commit.
  void commit();
  // Drops queued bytes and cuts the file back to its last commit (made durable). Never throws:
  // it is the way out of a failure, and a failure of its own leaves the caller's error to report.
  void rollback() noexcept;
  // Drops the queued bytes only (the file keeps what was written).
  void drop_queued() { queue_.clear(); }
  // Cuts the file to its first `bytes` (durably) and makes that the last commit: how a resume
  // drops what it could not verify. Throws Error(kIo).
  void cut(uint64_t bytes);

  uint64_t committed() const { return committed_; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  int fd_ = -1;
  std::string queue_;
  uint64_t written_ = 0;    // Bytes in the file (the commit plus synced bytes since).
  uint64_t committed_ = 0;  // Bytes of the last commit.
};

// Replaces `path` by `bytes` atomically and durably (see above). Throws Error(kIo); the old file,
// if any, is then unchanged and no temporary is left.
void write_file_atomically(const std::string& path, std::string_view bytes);

// Makes a file already written under `temporary` durable and renames it over `path` (then syncs
// the directory): for files another library writes (FAISS). Removes `temporary` on failure.
void replace_durably(const std::string& temporary, const std::string& path);

// Makes a directory's entries (renames, new files) durable. Throws Error(kIo).
void sync_directory(const std::string& directory);

}  // namespace clipembed::io
