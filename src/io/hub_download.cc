#include "io/hub_download.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>

#include "clipembed/error.h"
#include "io/durable_file.h"
#include "io/hub_cache.h"
#include "io/sha256.h"
#include "io/url_fetcher.h"

namespace clipembed::io {
namespace {

namespace fs = std::filesystem;

using Headers = std::map<std::string, std::string>;  // Lowercase names, last value wins.

struct CurlDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};
using CurlHandle = std::unique_ptr<CURL, CurlDeleter>;
using Slist = std::unique_ptr<curl_slist, SlistDeleter>;

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// Keeps the headers of the last response only (a redirect's headers are replaced by the next's).
size_t on_header(char* data, size_t size, size_t count, void* user) {
  auto* headers = static_cast<Headers*>(user);
  const std::string line(data, size * count);
  if (line.rfind("HTTP/", 0) == 0) headers->clear();
  const size_t colon = line.find(':');
  if (colon != std::string::npos) {
    std::string value = line.substr(colon + 1);
    const size_t first = value.find_first_not_of(" \t");
    const size_t last = value.find_last_not_of(" \t\r\n");
    value = first == std::string::npos ? "" : value.substr(first, last - first + 1);
    (*headers)[lower(line.substr(0, colon))] = value;
  }
  return size * count;
}

// "W/\"abc\"" -> "abc".
std::string clean_etag(std::string etag) {
  if (etag.rfind("W/", 0) == 0) etag.erase(0, 2);
  if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"') {
    etag = etag.substr(1, etag.size() - 2);
  }
  return etag;
}

bool is_sha256(const std::string& s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](unsigned char c) {
           return std::isdigit(c) || (c >= 'a' && c <= 'f');
         });
}

[[noreturn]] void throw_transfer_error(CURLcode code, long status, const std::string& url,
                                       const std::string& what) {
  const ErrorCode ours = classify_curl_result(code, status, false);
  std::string message;
  if (code == CURLE_OK && (status == 401 || status == 403)) {
    message = "HTTP " + std::to_string(status) + " for " + url +
              ": the repository is private or gated, or the token is wrong; set HF_TOKEN to a "
              "token that can read it";
  } else if (code == CURLE_OK && status == 404) {
    message = "HTTP 404 for " + url + ": no such repository, revision or file (" + what + ")";
  } else if (code == CURLE_OK) {
    message = "HTTP " + std::to_string(status) + " for " + url;
  } else {
    message = std::string(curl_easy_strerror(code)) + " for " + url;
  }
  throw Error(ours == ErrorCode::kInternal ? ErrorCode::kUrlFetch : ours, message);
}

class HubClient {
 public:
  HubClient(const std::string& repo_id, const HubDownloadOptions& options)
      : repo_id_(repo_id), options_(options) {}

  struct FileInfo {
    std::string commit, etag;
    uint64_t size = 0;  // 0 when unknown.
  };

  // HEAD of the file's resolve URL, not following the redirect to the storage host: the hub's
  // own answer carries the commit and, for LFS files, the sha256 (X-Linked-Etag) and size.
  FileInfo head(const std::string& file) {
    const std::string url = resolve_url(file);
    CurlHandle curl = handle(url);
    Headers headers;
    curl_easy_setopt(curl.get(), CURLOPT_NOBODY, 1L);
    curl_easy_setopt(curl.get(), CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(curl.get(), CURLOPT_HEADERDATA, &headers);
    const Slist auth = auth_headers();
    curl_easy_setopt(curl.get(), CURLOPT_HTTPHEADER, auth.get());
    const CURLcode code = curl_easy_perform(curl.get());
    long status = 0;
    curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &status);
    if (code != CURLE_OK || status >= 400) {
      throw_transfer_error(code, status, url, repo_id_ + "@" + options_.revision + ": " + file);
    }
    FileInfo info;
    info.commit = headers["x-repo-commit"];
    info.etag =
        clean_etag(headers.count("x-linked-etag") ? headers["x-linked-etag"] : headers["etag"]);
    const std::string size =
        headers.count("x-linked-size") ? headers["x-linked-size"] : headers["content-length"];
    info.size = size.empty() ? 0 : std::strtoull(size.c_str(), nullptr, 10);
    if (info.commit.empty()) info.commit = options_.revision;  // A plain mirror without the header.
    if (!is_safe_name(info.commit) || !is_safe_name(info.etag)) {
      throw Error(ErrorCode::kUrlFetch, url + " answered without a usable commit or ETag header");
    }
    return info;
  }

  // Downloads into `partial`, continuing from its current size when the server honours Range.
  void get(const std::string& file, const fs::path& partial, uint64_t expected_size) {
    const std::string url = resolve_url(file);
    std::error_code ec;
    uint64_t offset = fs::exists(partial, ec) ? fs::file_size(partial, ec) : 0;
    if (expected_size > 0 && offset >= expected_size) offset = 0;  // Stale: start over.
    std::FILE* out = std::fopen(partial.c_str(), offset > 0 ? "ab" : "wb");
    if (out == nullptr) throw Error(ErrorCode::kIo, "cannot write " + partial.string());
    Transfer t{this, file, out, offset, expected_size};
    CurlHandle curl = handle(url);
    t.curl = curl.get();
    curl_easy_setopt(curl.get(), CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(curl.get(), CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl.get(), CURLOPT_WRITEDATA, &t);
    curl_easy_setopt(curl.get(), CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(curl.get(), CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(curl.get(), CURLOPT_XFERINFODATA, &t);
    const std::string range = std::to_string(offset) + "-";
    if (offset > 0) curl_easy_setopt(curl.get(), CURLOPT_RANGE, range.c_str());
    // Sent to the hub only: libcurl drops a custom Authorization header on a redirect to another
    // host (the storage CDN), as huggingface_hub does.
    const Slist auth = auth_headers();
    curl_easy_setopt(curl.get(), CURLOPT_HTTPHEADER, auth.get());
    const CURLcode code = curl_easy_perform(curl.get());
    if (t.out != nullptr && std::fclose(t.out) != 0 && t.write_error == 0) t.write_error = errno;
    long status = 0;
    curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &status);
    if (status == 416) {  // The partial file does not fit the server's copy: start over.
      fs::remove(partial, ec);
      throw Error(ErrorCode::kUrlStatus, "HTTP 416 resuming " + url + "; run the download again");
    }
    if (t.write_error != 0) throw_os_error("cannot write", partial.string(), t.write_error);
    if (code != CURLE_OK || status >= 400) {
      throw_transfer_error(code, status, url, repo_id_ + "@" + options_.revision + ": " + file);
    }
  }

 private:
  struct Transfer {
    HubClient* client;
    const std::string& file;
    std::FILE* out;
    uint64_t offset;
    uint64_t expected;
    CURL* curl = nullptr;
    bool checked_status = false;
    int write_error = 0;  // The errno of a failed write (0: none).
  };

  static size_t on_body(char* data, size_t size, size_t count, void* user) {
    auto* t = static_cast<Transfer*>(user);
    if (!t->checked_status) {
      t->checked_status = true;
      long status = 0;
      curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &status);
      if (status >= 400) return 0;  // An error page is not the file: abort, report the status.
      if (status == 200 && t->offset > 0) {
        // The server ignored the Range request and sends the whole file: restart the partial.
        t->out = std::freopen(nullptr, "wb", t->out);
        t->offset = 0;
        if (t->out == nullptr) {
          t->write_error = errno;
          return 0;
        }
      }
    }
    if (std::fwrite(data, size, count, t->out) != count) {
      t->write_error = errno != 0 ? errno : EIO;
      return 0;
    }
    return size * count;
  }

  static int on_progress(void* user, curl_off_t total, curl_off_t now, curl_off_t, curl_off_t) {
    auto* t = static_cast<Transfer*>(user);
    if (t->client->options_.progress) {
      const uint64_t have = t->offset + static_cast<uint64_t>(now);
      const uint64_t all = total > 0 ? t->offset + static_cast<uint64_t>(total) : t->expected;
      t->client->options_.progress(t->file, have, all);
    }
    return 0;
  }

  std::string resolve_url(const std::string& file) const {
    return options_.endpoint + "/" + repo_id_ + "/resolve/" + options_.revision + "/" + file;
  }

  CurlHandle handle(const std::string& url) const {
    CurlHandle curl(curl_easy_init());
    if (!curl) throw Error(ErrorCode::kInternal, "curl_easy_init failed");
    curl_easy_setopt(curl.get(), CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl.get(), CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl.get(), CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl.get(), CURLOPT_MAXREDIRS, 5L);
    curl_easy_setopt(curl.get(), CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl.get(), CURLOPT_USERAGENT, "clipembed/0.1");
    curl_easy_setopt(curl.get(), CURLOPT_CONNECTTIMEOUT,
                     static_cast<long>(options_.connect_timeout.count()));
    curl_easy_setopt(curl.get(), CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(curl.get(), CURLOPT_LOW_SPEED_TIME,
                     static_cast<long>(options_.stall_timeout.count()));
    return curl;
  }

  Slist auth_headers() const {
    if (options_.token.empty()) return nullptr;
    return Slist(curl_slist_append(nullptr, ("Authorization: Bearer " + options_.token).c_str()));
  }

  std::string repo_id_;
  const HubDownloadOptions& options_;
};

// Readers never see a half-written ref.
void write_text(const fs::path& path, const std::string& text) {
  write_file_atomically(path.string(), text);
}

}  // namespace

std::string sha256_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(ErrorCode::kIo, "cannot read " + path);
  Sha256 digest;
  std::vector<char> buffer(1 << 20);
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    digest.update({buffer.data(), static_cast<size_t>(in.gcount())});
  }
  return digest.hex();
}

std::string download_from_hub(const std::string& repo_id, const HubDownloadOptions& options) {
  if (!is_repo_id(repo_id) || !is_safe_name(options.revision)) {
    throw Error(ErrorCode::kInvalidArgument,
                "'" + repo_id + "' is not a repo id like openai/clip-vit-base-patch32");
  }
  const fs::path repo = repo_folder(options.cache_dir, repo_id);
  std::error_code ec;
  fs::create_directories(repo / "blobs", ec);
  fs::create_directories(repo / "refs", ec);
  if (ec) throw Error(ErrorCode::kIo, "cannot create " + repo.string() + ": " + ec.message());
  HubClient client(repo_id, options);
  fs::path snapshot;
  for (const std::string& file : options.files) {
    const HubClient::FileInfo info = client.head(file);
    snapshot = snapshot_path(repo, info.commit);
    const fs::path blob = blob_path(repo, info.etag);
    const bool cached =
        fs::exists(blob, ec) && (info.size == 0 || fs::file_size(blob) == info.size);
    if (!cached) {
      const fs::path partial = blob.string() + ".incomplete";
      client.get(file, partial, info.size);
      if (info.size > 0 && fs::file_size(partial) != info.size) {
        throw Error(ErrorCode::kUrlFetch, file + ": got " + std::to_string(fs::file_size(partial)) +
                                              " bytes, the hub announced " +
                                              std::to_string(info.size) +
                                              "; run it again to resume");
      }
      if (is_sha256(info.etag)) {
        const std::string actual = sha256_file(partial.string());
        if (actual != info.etag) {
          fs::remove(partial, ec);
          throw Error(ErrorCode::kIo, file + ": sha256 " + actual + " does not match the hub's " +
                                          info.etag + "; the download was removed");
        }
      }
      replace_durably(partial.string(), blob.string());  // Complete and checked: durable.
    }
    fs::create_directories(snapshot, ec);
    const fs::path link = snapshot / file;
    fs::remove(link, ec);
    fs::create_symlink(fs::path("..") / ".." / "blobs" / info.etag, link, ec);
    if (ec) throw Error(ErrorCode::kIo, "cannot link " + link.string() + ": " + ec.message());
    if (info.commit != options.revision) write_text(ref_path(repo, options.revision), info.commit);
    if (options.file_done) options.file_done(file, !cached);
  }
  return snapshot.string();
}

}  // namespace clipembed::io
