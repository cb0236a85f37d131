// Internal: the layout of the Hugging Face hub cache, in one place for the reader (locate_model)
// and the writer (download_from_hub):
//   CACHE/models--ORG--NAME/blobs/ETAG                    a file's bytes
//   CACHE/models--ORG--NAME/snapshots/COMMIT/FILE         a relative link to ../../blobs/ETAG
//   CACHE/models--ORG--NAME/refs/REVISION                 COMMIT, for a branch or tag
#pragma once

#include <filesystem>
#include <optional>
#include <string>

namespace clipembed::io {

// A name that may be one path component of the cache (no separators, not "." or "..").
bool is_safe_name(const std::string& name);

// True for "org/name" with both parts safe names.
bool is_repo_id(const std::string& reference);

// CACHE/models--ORG--NAME for a repo id (which must satisfy is_repo_id).
std::filesystem::path repo_folder(const std::filesystem::path& cache, const std::string& repo_id);

std::filesystem::path blob_path(const std::filesystem::path& repo, const std::string& etag);
std::filesystem::path snapshot_path(const std::filesystem::path& repo, const std::string& commit);
std::filesystem::path ref_path(const std::filesystem::path& repo, const std::string& revision);

// The snapshot a revision names: refs/REVISION's commit (or REVISION itself as a commit), else,
// for "main", the newest snapshot; nullopt when there is none.
std::optional<std::filesystem::path> find_snapshot(const std::filesystem::path& repo,
                                                   const std::string& revision);

}  // namespace clipembed::io
