#include "cli/text_source.h"

#include <iostream>
#include <nlohmann/json.hpp>

#include "clipembed/error.h"

namespace clipembed::cli {

TextSource::TextSource(std::vector<std::string> texts, std::vector<std::string> files)
    : texts_(std::move(texts)), files_(std::move(files)) {}

std::optional<std::string> TextSource::next() {
  if (next_text_ < texts_.size()) return texts_[next_text_++];
  while (true) {
    if (lines_ == nullptr) {
      if (next_file_ == files_.size()) return std::nullopt;
      source_ = files_[next_file_++];
      line_number_ = 0;
      jsonl_ = source_.size() > 6 && source_.compare(source_.size() - 6, 6, ".jsonl") == 0;
      if (source_ == "-") {
        lines_ = &std::cin;
      } else {
        file_ = std::make_unique<std::ifstream>(source_, std::ios::binary);
        if (!*file_) throw Error(ErrorCode::kIo, "cannot read " + source_);
        lines_ = file_.get();
      }
    }
    std::string line;
    if (!std::getline(*lines_, line)) {
      lines_ = nullptr;
      file_.reset();
      continue;
    }
    ++line_number_;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!jsonl_) return line;
    if (line.empty()) continue;
    const auto record = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!record.is_object() || !record.contains("text") || !record["text"].is_string()) {
      throw Error(ErrorCode::kInvalidArgument,
                  source_ + ":" + std::to_string(line_number_) + ": expected {\"text\": \"...\"}");
    }
    return record["text"].get<std::string>();
  }
}

}  // namespace clipembed::cli
