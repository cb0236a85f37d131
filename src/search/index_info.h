// Internal: index.json (IndexInfo) on disk, and the check that vectors belong in an index.
#pragma once

#include <string>

#include "clipembed/index.h"

namespace clipembed::search {

// Reads directory/index.json; throws Error(kIndexInvalid) for a missing or malformed file.
IndexInfo read_info(const std::string& directory);
// Writes directory/index.json through a temporary file and a rename.
void write_info(const std::string& directory, const IndexInfo& info);
// Throws Error(kIndexInvalid) unless `vectors` (a model's identity) matches `index`'s model
// hash, dimension and precision; `where` names the index in the message.
void check_identity(const IndexInfo& index, const IndexInfo& vectors, const std::string& where);
// The current time in UTC, ISO 8601 (2026-11-30T17:00:00Z).
std::string utc_now();

}  // namespace clipembed::search
