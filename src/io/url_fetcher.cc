#include "io/url_fetcher.h"

#include <curl/curl.h>
#include <sys/socket.h>

#include <atomic>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

namespace clipembed::io {
namespace {

struct Transfer {
  uint64_t id = 0;
  std::string url;
  UrlOptions options;
  UrlFetcher::Done done;
  std::vector<uint8_t> body;
  bool too_large = false;
  bool forbidden = false;  // A connection was refused by the address policy.
  char error_buffer[CURL_ERROR_SIZE] = {0};
};

size_t write_body(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t n = size * count;
  if (t->body.size() + n > t->options.max_bytes) {
    t->too_large = true;
    return 0;  // Aborts the transfer with CURLE_WRITE_ERROR.
  }
  t->body.insert(t->body.end(), data, data + n);
  return n;
}

// Called by libcurl with the resolved address of every connection it opens, the first and those
// after redirects; refuses non-public ones by returning no socket.
curl_socket_t open_checked_socket(void* user, curlsocktype, curl_sockaddr* address) {
  auto* t = static_cast<Transfer*>(user);
  if (t->options.refuse_address(&address->addr)) {
    t->forbidden = true;
    return CURL_SOCKET_BAD;
  }
  return ::socket(address->family, address->socktype, address->protocol);
}

std::string describe(ErrorCode code, const Transfer& t, long status) {
  switch (code) {
    case ErrorCode::kUrlForbidden:
      return t.url +
             ": leads to a private, loopback or link-local address, which URL inputs may "
             "not reach";
    case ErrorCode::kUrlStatus:
      return t.url + ": HTTP status " + std::to_string(status);
    case ErrorCode::kUrlTooLarge:
      return t.url + ": larger than the limit of " + std::to_string(t.options.max_bytes) + " bytes";
    case ErrorCode::kUrlRedirects:
      return t.url + ": more than " + std::to_string(t.options.max_redirects) + " redirects";
    default:
      return t.url + ": " + (t.error_buffer[0] ? t.error_buffer : "transfer failed");
  }
}

}  // namespace

ErrorCode classify_curl_result(int curl_code, long http_status, bool too_large) {
  if (too_large || curl_code == CURLE_FILESIZE_EXCEEDED) return ErrorCode::kUrlTooLarge;
  switch (curl_code) {
    case CURLE_OK:
      return http_status >= 400 ? ErrorCode::kUrlStatus : ErrorCode::kInternal;
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
      return ErrorCode::kUrlInvalid;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
      return ErrorCode::kUrlDns;
    case CURLE_COULDNT_CONNECT:
      return ErrorCode::kUrlConnect;
    case CURLE_OPERATION_TIMEDOUT:
      return ErrorCode::kUrlTimeout;
    case CURLE_TOO_MANY_REDIRECTS:
      return ErrorCode::kUrlRedirects;
    default:
      return ErrorCode::kUrlFetch;
  }
}

struct UrlFetcher::Impl {
  CURLM* multi = nullptr;
  mutable std::mutex mutex;
  std::deque<std::unique_ptr<Transfer>> incoming;
  std::vector<uint64_t> cancelled;  // Ids to abort; guarded by mutex.
  uint64_t next_id = 1;             // Guarded by mutex.
  std::atomic<size_t> in_flight{0};
  bool stopping = false;
  std::thread thread;
  std::map<uint64_t, CURL*> active;  // Transfers in the multi handle; the I/O thread's only.

  void start(std::unique_ptr<Transfer> t);
  void finish(CURL* easy, CURLcode result, bool cancelled = false);
  void loop();
};

void UrlFetcher::Impl::start(std::unique_ptr<Transfer> t) {
  CURL* easy = curl_easy_init();
  if (easy == nullptr) {
    const Error e(ErrorCode::kInternal, "curl_easy_init failed");
    t->done(nullptr, &e);
    return;
  }
  curl_easy_setopt(easy, CURLOPT_URL, t->url.c_str());
  curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(easy, CURLOPT_MAXREDIRS, static_cast<long>(t->options.max_redirects));
  curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(t->options.connect_timeout.count()));
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, static_cast<long>(t->options.total_timeout.count()));
  curl_easy_setopt(easy, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(t->options.max_bytes));
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_USERAGENT, "clipembed/0.1");
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, write_body);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, t.get());
  curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, t->error_buffer);
  curl_easy_setopt(easy, CURLOPT_PRIVATE, t.get());
  if (t->options.refuse_address) {
    curl_easy_setopt(easy, CURLOPT_OPENSOCKETFUNCTION, open_checked_socket);
    curl_easy_setopt(easy, CURLOPT_OPENSOCKETDATA, t.get());
    curl_easy_setopt(easy, CURLOPT_PROXY, "");  // A proxy's address would be checked instead.
    // The policy judges a connection when it opens: a connection from the shared cache may have
    // been opened by a transfer without it.
    curl_easy_setopt(easy, CURLOPT_FRESH_CONNECT, 1L);
    curl_easy_setopt(easy, CURLOPT_FORBID_REUSE, 1L);
  }
  curl_multi_add_handle(multi, easy);
  active[t->id] = easy;
  // Owned by the easy handle (CURLOPT_PRIVATE) from here until finish() takes it back.
  static_cast<void>(t.release());
}

void UrlFetcher::Impl::finish(CURL* easy, CURLcode result, bool cancelled_transfer) {
  Transfer* raw = nullptr;
  curl_easy_getinfo(easy, CURLINFO_PRIVATE, &raw);
  std::unique_ptr<Transfer> t(raw);
  long status = 0;
  curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
  curl_multi_remove_handle(multi, easy);
  curl_easy_cleanup(easy);
  active.erase(t->id);
  --in_flight;
  if (cancelled_transfer) {
    const Error e(ErrorCode::kCancelled, t->url + ": download cancelled");
    t->done(nullptr, &e);
    return;
  }
  const ErrorCode code =
      t->forbidden ? ErrorCode::kUrlForbidden : classify_curl_result(result, status, t->too_large);
  if (code == ErrorCode::kInternal) {
    t->done(&t->body, nullptr);
  } else {
    const Error e(code, describe(code, *t, status));
    t->done(nullptr, &e);
  }
}

void UrlFetcher::Impl::loop() {
  while (true) {
    std::deque<std::unique_ptr<Transfer>> fresh;
    std::vector<uint64_t> to_cancel;
    {
      std::lock_guard<std::mutex> lock(mutex);
      if (stopping) break;
      fresh.swap(incoming);
      to_cancel.swap(cancelled);
    }
    for (auto& t : fresh) start(std::move(t));
    for (uint64_t id : to_cancel) {
      const auto it = active.find(id);
      if (it != active.end()) finish(it->second, CURLE_ABORTED_BY_CALLBACK, /*cancelled=*/true);
    }
    int running = 0;
    curl_multi_perform(multi, &running);
    int left = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi, &left)) {
      if (msg->msg == CURLMSG_DONE) finish(msg->easy_handle, msg->data.result);
    }
    curl_multi_poll(multi, nullptr, 0, 100, nullptr);  // Woken early by curl_multi_wakeup.
  }
  // Shutting down: fail whatever is still in flight.
  const std::map<uint64_t, CURL*> remaining = active;
  for (const auto& [id, easy] : remaining) finish(easy, CURLE_ABORTED_BY_CALLBACK, true);
}

UrlFetcher& UrlFetcher::instance() {
  static UrlFetcher fetcher;
  return fetcher;
}

UrlFetcher::UrlFetcher() : impl_(new Impl) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  impl_->multi = curl_multi_init();
  impl_->thread = std::thread([impl = impl_] { impl->loop(); });
}

UrlFetcher::~UrlFetcher() {
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    impl_->stopping = true;
  }
  curl_multi_wakeup(impl_->multi);
  impl_->thread.join();
  curl_multi_cleanup(impl_->multi);
  delete impl_;
  curl_global_cleanup();
}

uint64_t UrlFetcher::fetch(const std::string& url, const UrlOptions& options, Done done) {
  if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0) {
    const Error e(ErrorCode::kUrlInvalid, "not an http(s) URL: " + url);
    done(nullptr, &e);
    return 0;
  }
  auto t = std::make_unique<Transfer>();
  t->url = url;
  t->options = options;
  t->done = std::move(done);
  uint64_t id = 0;
  {
    std::unique_lock<std::mutex> lock(impl_->mutex);
    if (impl_->stopping) {
      lock.unlock();
      const Error e(ErrorCode::kCancelled, "shutting down");
      t->done(nullptr, &e);
      return 0;
    }
    id = t->id = impl_->next_id++;
    ++impl_->in_flight;
    impl_->incoming.push_back(std::move(t));
  }
  curl_multi_wakeup(impl_->multi);
  return id;
}

void UrlFetcher::cancel(uint64_t id) {
  if (id == 0) return;
  std::unique_ptr<Transfer> waiting;
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    // Not started yet: it never reaches curl.
    for (auto it = impl_->incoming.begin(); it != impl_->incoming.end(); ++it) {
      if ((*it)->id == id) {
        waiting = std::move(*it);
        impl_->incoming.erase(it);
        --impl_->in_flight;
        break;
      }
    }
    if (waiting == nullptr) impl_->cancelled.push_back(id);
  }
  if (waiting != nullptr) {
    const Error e(ErrorCode::kCancelled, waiting->url + ": download cancelled");
    waiting->done(nullptr, &e);
    return;
  }
  curl_multi_wakeup(impl_->multi);
}

size_t UrlFetcher::in_flight() const { return impl_->in_flight.load(); }

}  // namespace clipembed::io
