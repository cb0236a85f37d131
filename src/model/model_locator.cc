// Finds a model directory from a reference: a directory, or a Hugging Face repo id already in the
// local hub cache (as `huggingface-cli download` or transformers leave it), so a model a user has
// downloaded with Python works as is.
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "clipembed/error.h"
#include "clipembed/model.h"

namespace clipembed {
namespace {

namespace fs = std::filesystem;

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr ? std::string(v) : std::string();
}

bool looks_like_repo_id(const std::string& ref) {
  const size_t slash = ref.find('/');
  return slash != std::string::npos && slash > 0 && slash + 1 < ref.size() &&
         ref.find('/', slash + 1) == std::string::npos && ref.find("..") == std::string::npos &&
         ref[0] != '.';
}

}  // namespace

std::string hub_home_directory() {
  if (std::string v = env("HF_HOME"); !v.empty()) return v;
  if (std::string v = env("XDG_CACHE_HOME"); !v.empty()) return v + "/huggingface";
  return env("HOME") + "/.cache/huggingface";
}

std::string hub_cache_directory() {
  if (std::string v = env("HF_HUB_CACHE"); !v.empty()) return v;
  return hub_home_directory() + "/hub";
}

std::string locate_model(const std::string& reference) {
  std::error_code ec;
  if (fs::is_directory(reference, ec)) return reference;
  if (!looks_like_repo_id(reference)) {
    throw Error(ErrorCode::kModelInvalid,
                "model '" + reference + "' is neither a directory nor a Hugging Face repo id");
  }
  const std::string org = reference.substr(0, reference.find('/'));
  const std::string name = reference.substr(reference.find('/') + 1);
  const fs::path repo = fs::path(hub_cache_directory()) / ("models--" + org + "--" + name);
  // refs/main names the snapshot the cache considers current; otherwise take the newest snapshot.
  std::string revision;
  std::ifstream main_ref(repo / "refs" / "main");
  if (main_ref) std::getline(main_ref, revision);
  fs::path snapshot;
  if (!revision.empty() && fs::is_directory(repo / "snapshots" / revision, ec)) {
    snapshot = repo / "snapshots" / revision;
  } else if (fs::is_directory(repo / "snapshots", ec)) {
    fs::file_time_type newest{};
    for (const auto& entry : fs::directory_iterator(repo / "snapshots", ec)) {
      if (entry.is_directory() && (snapshot.empty() || entry.last_write_time() > newest)) {
        snapshot = entry.path();
        newest = entry.last_write_time();
      }
    }
  }
  if (snapshot.empty() || !fs::exists(snapshot / "model.safetensors", ec)) {
    throw Error(ErrorCode::kModelInvalid,
                "model '" + reference + "' is not in the Hugging Face cache (" + repo.string() +
                    "). Download it with: clipembed download " + reference +
                    " (or: huggingface-cli download " + reference +
                    " config.json preprocessor_config.json model.safetensors)");
  }
  return snapshot.string();
}

}  // namespace clipembed
