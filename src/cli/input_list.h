// Internal: the inputs `clipembed embed` works through, produced one at a time so that memory does
// not grow with the number of files.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <istream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace clipembed::cli {

struct InputOptions {
  bool recursive = false;  // Descend into subdirectories of directory arguments.
  std::string glob;        // fnmatch pattern for files found in directories (default: images).
  std::vector<std::string> files_from;  // Files listing one path or URL per line; "-" is stdin.
};

// Yields the inputs named by `arguments` in order: a file or URL as is, a directory as its
// matching files in path order (so runs are reproducible), "-" or a --files-from list as its lines
// (blank lines and lines starting with '#' skipped); then each --files-from list. Paths that do
// not exist are yielded too, to be reported per input.
//
// Memory: one directory listing per level of the walk (names packed in one buffer) and one line
// of a list at a time, never the whole set of inputs. Not thread-safe: one consumer.
class InputSource {
 public:
  InputSource(std::vector<std::string> arguments, InputOptions options);
  ~InputSource();
  InputSource(const InputSource&) = delete;
  InputSource& operator=(const InputSource&) = delete;

  std::optional<std::string> next();

  // How many inputs a fresh walk yields, found by walking once more; nullopt when stdin is one of
  // the sources (it can be read only once).
  std::optional<size_t> count() const;

 private:
  // One directory being walked: its entry names, sorted, in one buffer ('/' ends subdirectories).
  struct Listing {
    std::filesystem::path dir;
    std::string names;              // Each name followed by '\0'.
    std::vector<uint32_t> offsets;  // Start of each name in `names`, in walk order.
    size_t position = 0;
  };
  Listing list_directory(const std::filesystem::path& dir) const;
  std::optional<std::string> next_in_walk();
  std::optional<std::string> next_line();
  bool open_source(const std::string& source);

  struct Source {
    bool is_list;  // A --files-from list (or "-"), rather than a path, directory or URL.
    std::string value;
  };
  std::vector<Source> sources_;
  InputOptions options_;
  size_t next_source_ = 0;
  std::vector<Listing> walk_;           // Directories from the argument down to the current one.
  std::unique_ptr<std::istream> file_;  // The list being read, unless it is stdin.
  std::istream* lines_ = nullptr;       // The list being read (file_ or std::cin).
};

}  // namespace clipembed::cli
