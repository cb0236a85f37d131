// Internal: the JSON Lines records the CLI prints, one per input.
#pragma once

#include <span>
#include <string>
#include <string_view>

namespace clipembed::cli {

// {"path": ..., "embedding": [...]} with floats in their shortest round-trip form.
std::string embedding_line(const std::string& path, std::span<const float> embedding);

// {"path": ..., "error": {"code": ..., "message": ...}}
std::string error_line(const std::string& path, std::string_view code, const std::string& message);

}  // namespace clipembed::cli
