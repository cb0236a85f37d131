// Internal: the list of inputs `clipembed embed` works through.
#pragma once

#include <string>
#include <vector>

namespace clipembed::cli {

struct InputOptions {
  bool recursive = false;  // Descend into subdirectories of directory arguments.
  std::string glob;        // fnmatch pattern for files found in directories (default: images).
  std::vector<std::string> files_from;  // Files listing one path or URL per line; "-" is stdin.
};

// Expands arguments in order: a file or URL as is, a directory into its matching files (sorted by
// path, so runs are reproducible), "-" or a --files-from list into its lines (blank lines and
// lines starting with '#' skipped). Paths that do not exist are kept, to be reported per input.
std::vector<std::string> expand_inputs(const std::vector<std::string>& arguments,
                                       const InputOptions& options);

bool is_url(const std::string& input);

}  // namespace clipembed::cli
