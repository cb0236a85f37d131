// Internal: whole-file reads and read-only memory maps, with errors as clipembed::Error(kIo).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace clipembed::io {

// Reads a whole regular file of at most `max_bytes` (the size is checked before reading). A FIFO,
// device or directory is refused at once, without blocking. Throws kIo naming the path.
std::vector<uint8_t> read_file(const std::string& path, uint64_t max_bytes = UINT64_MAX);

// Writes bytes to a file, replacing it. Throws kIo on failure.
void write_file(const std::string& path, std::span<const uint8_t> bytes);

// A read-only, private memory map of a whole file. The mapping lives as long as the object; it is
// immutable and may be read from any number of threads.
class MappedFile {
 public:
  explicit MappedFile(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  std::span<const uint8_t> bytes() const { return {data_, size_}; }
  const std::string& path() const { return path_; }

  // Drops the whole pages inside [data, data + bytes) from this process's memory (they stay in the
  // page cache, and reading them again faults them back in from the file): for parts the caller
  // no longer reads. Ranges outside the mapping are ignored.
  void release(const void* data, size_t bytes) const;

 private:
  std::string path_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace clipembed::io
