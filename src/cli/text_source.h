// Internal: the texts `clipembed tokenize`, `embed-text` and `classify --labels-from` read, one at
// a time: arguments first, then each --texts-from file ("-" is stdin), one text per line, or, for
// a .jsonl file, one {"text": ...} object per line (so a text may hold newlines).
#pragma once

#include <fstream>
#include <istream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace clipembed::cli {

class TextSource {
 public:
  TextSource(std::vector<std::string> texts, std::vector<std::string> files);

  // The next text; throws Error(kIo) for an unreadable file and kInvalidArgument for a .jsonl
  // line that is not {"text": "..."}.
  std::optional<std::string> next();

 private:
  std::vector<std::string> texts_, files_;
  size_t next_text_ = 0, next_file_ = 0;
  std::unique_ptr<std::ifstream> file_;
  std::istream* lines_ = nullptr;
  bool jsonl_ = false;
  std::string source_;
  size_t line_number_ = 0;
};

}  // namespace clipembed::cli
