// Internal: downloads files of a Hugging Face repository into the hub's cache layout, so that
// transformers, huggingface_hub and clipembed all find them:
//   CACHE/models--ORG--NAME/blobs/ETAG                    the file's bytes
//   CACHE/models--ORG--NAME/snapshots/COMMIT/FILE         a relative link to ../../blobs/ETAG
//   CACHE/models--ORG--NAME/refs/REVISION                 COMMIT, when REVISION is a branch or tag
// Partial downloads live in blobs/ETAG.incomplete and are resumed with a Range request. Files the
// hub stores in LFS carry their sha256 as ETag; those are checked after download.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace clipembed::io {

struct HubDownloadOptions {
  std::string endpoint = "https://huggingface.co";  // No trailing slash.
  std::string token;                                // Sent as "Authorization: Bearer" when set.
  std::string cache_dir;                            // The hub cache (HF_HUB_CACHE).
  std::string revision = "main";                    // Branch, tag or commit.
  std::vector<std::string> files = {"config.json", "preprocessor_config.json", "model.safetensors"};
  std::chrono::seconds connect_timeout{30};
  // A transfer slower than 1 byte/s for this long is abandoned (kUrlTimeout); the partial file is
  // kept for the next attempt.
  std::chrono::seconds stall_timeout{60};
  // Called during each transfer with the file name, bytes present (resumed ones included) and the
  // total (0 when unknown). Runs on the calling thread.
  std::function<void(const std::string& file, uint64_t have, uint64_t total)> progress;
  // Called once per file when it is in place: whether it was downloaded (false: already cached).
  std::function<void(const std::string& file, bool downloaded)> file_done;
};

// Downloads `options.files` of `repo_id` ("org/name") at `options.revision` and returns the
// snapshot directory holding them. Throws Error: kInvalidArgument for a malformed repo id,
// kUrlStatus for an HTTP error (401/403 name HF_TOKEN, 404 names the repo, revision and file),
// other kUrl* codes for network failures, kIo for local files and for a checksum mismatch (the
// bad file is removed). Blocking; not for compute threads.
std::string download_from_hub(const std::string& repo_id, const HubDownloadOptions& options);

// The SHA-256 of a file as 64 lowercase hex digits. Throws Error(kIo).
std::string sha256_file(const std::string& path);

}  // namespace clipembed::io
