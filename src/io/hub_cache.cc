// The hub cache layout (hub_cache.h) and the public lookups of clipembed/hub.h over it.
#include "io/hub_cache.h"

#include <cstdlib>
#include <fstream>

#include "clipembed/error.h"
#include "clipembed/hub.h"

namespace clipembed {
namespace io {
namespace {

namespace fs = std::filesystem;

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr ? std::string(v) : std::string();
}

}  // namespace

bool is_safe_name(const std::string& name) {
  return !name.empty() && name != "." && name != ".." && name.find('/') == std::string::npos &&
         name.find('\\') == std::string::npos;
}

bool is_repo_id(const std::string& reference) {
  const size_t slash = reference.find('/');
  return slash != std::string::npos && is_safe_name(reference.substr(0, slash)) &&
         is_safe_name(reference.substr(slash + 1)) && reference[0] != '.';
}

fs::path repo_folder(const fs::path& cache, const std::string& repo_id) {
  const size_t slash = repo_id.find('/');
  return cache / ("models--" + repo_id.substr(0, slash) + "--" + repo_id.substr(slash + 1));
}

fs::path blob_path(const fs::path& repo, const std::string& etag) { return repo / "blobs" / etag; }

fs::path snapshot_path(const fs::path& repo, const std::string& commit) {
  return repo / "snapshots" / commit;
}

fs::path ref_path(const fs::path& repo, const std::string& revision) {
  return repo / "refs" / revision;
}

std::optional<fs::path> find_snapshot(const fs::path& repo, const std::string& revision) {
  std::error_code ec;
  std::string commit;
  std::ifstream ref(ref_path(repo, revision));
  if (ref) std::getline(ref, commit);
  if (commit.empty()) commit = revision;
  if (is_safe_name(commit) && fs::is_directory(snapshot_path(repo, commit), ec)) {
    return snapshot_path(repo, commit);
  }
  if (revision != "main") return std::nullopt;
  // No usable ref: the newest snapshot is the one a download made last.
  std::optional<fs::path> newest;
  fs::file_time_type newest_time{};
  for (const auto& entry : fs::directory_iterator(repo / "snapshots", ec)) {
    if (entry.is_directory() && (!newest || entry.last_write_time() > newest_time)) {
      newest = entry.path();
      newest_time = entry.last_write_time();
    }
  }
  return newest;
}

}  // namespace io

std::string hub_home_directory() {
  if (std::string v = io::env("HF_HOME"); !v.empty()) return v;
  if (std::string v = io::env("XDG_CACHE_HOME"); !v.empty()) return v + "/huggingface";
  return io::env("HOME") + "/.cache/huggingface";
}

std::string hub_cache_directory() {
  if (std::string v = io::env("HF_HUB_CACHE"); !v.empty()) return v;
  return hub_home_directory() + "/hub";
}

std::string locate_model(const std::string& reference) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::is_directory(reference, ec)) return reference;
  if (!io::is_repo_id(reference) || reference.find("..") != std::string::npos) {
    throw Error(ErrorCode::kModelInvalid,
                "model '" + reference + "' is neither a directory nor a Hugging Face repo id");
  }
  const fs::path repo = io::repo_folder(hub_cache_directory(), reference);
  const std::optional<fs::path> snapshot = io::find_snapshot(repo, "main");
  if (!snapshot || !fs::exists(*snapshot / "model.safetensors", ec)) {
    throw Error(ErrorCode::kModelInvalid,
                "model '" + reference + "' is not in the Hugging Face cache (" + repo.string() +
                    "). Download it with: clipembed download " + reference +
                    " (or: huggingface-cli download " + reference +
                    " config.json preprocessor_config.json model.safetensors)");
  }
  return snapshot->string();
}

}  // namespace clipembed
