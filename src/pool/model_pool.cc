#include <algorithm>
#include <condition_variable>
#include <deque>
#include <thread>
#include <tuple>

#include "clipembed/model.h"
#include "clipembed/pool.h"
#include "clipembed/runtime.h"
#include "image/decoders.h"
#include "image/image_loader.h"
#include "model/input_crop.h"
#include "pool/memory_budget.h"
#include "pool/model_entry.h"

namespace clipembed {
namespace {

// URL downloads in flight across the pool, at most `limit`; the others wait their turn (they are
// already admitted, so they count against their model's queue).
class DownloadGate {
 public:
  explicit DownloadGate(int limit) : limit_(std::max(1, limit)) {}

  // Runs `start` now if a slot is free, else when one is; it must call release() when done.
  void run(std::function<void()> start) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (active_ >= limit_) {
        waiting_.push_back(std::move(start));
        return;
      }
      ++active_;
    }
    start();
  }

  void release() {
    std::function<void()> next;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (waiting_.empty()) {
        --active_;
        return;
      }
      next = std::move(waiting_.front());
      waiting_.pop_front();
    }
    next();  // The slot passes to it.
  }

  std::pair<size_t, size_t> counts() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return {static_cast<size_t>(active_), waiting_.size()};
  }

 private:
  const int limit_;
  mutable std::mutex mutex_;
  int active_ = 0;
  std::deque<std::function<void()>> waiting_;
};

// Bytes a decode reserved from the pool's decode budget, released when the crop is made.
class DecodeReservation : public image::DecodeMemory {
 public:
  explicit DecodeReservation(pool::MemoryBudget& budget) : budget_(budget) {}
  ~DecodeReservation() override { budget_.release(bytes_); }
  DecodeReservation(const DecodeReservation&) = delete;
  DecodeReservation& operator=(const DecodeReservation&) = delete;
  Answer reserve(uint64_t bytes) override {
    if (bytes > budget_.total()) return Answer::kNever;
    if (!budget_.try_reserve(bytes)) return Answer::kNotNow;
    bytes_ += bytes;
    return Answer::kGranted;
  }
  uint64_t limit() const override { return budget_.total(); }

 private:
  pool::MemoryBudget& budget_;
  uint64_t bytes_ = 0;
};

}  // namespace

struct ModelPool::Impl {
  explicit Impl(PoolOptions o)
      : options(std::move(o)),
        budget(options.memory_budget_bytes != 0 ? options.memory_budget_bytes
                                                : pool::physical_memory_bytes() / 5 * 4),
        decode_budget(options.max_decode_bytes != 0 ? options.max_decode_bytes
                                                    : budget.total() / 4),
        downloads(options.max_url_downloads) {}

  void timer_loop();
  void wake_at(pool::Clock::time_point when) {
    std::lock_guard<std::mutex> lock(mutex);
    if (when < next_wake) {
      next_wake = when;
      wake.notify_one();
    }
  }

  const PoolOptions options;
  pool::MemoryBudget budget;
  pool::MemoryBudget decode_budget;
  DownloadGate downloads;
  mutable std::mutex mutex;
  std::condition_variable wake;
  pool::Clock::time_point next_wake = pool::Clock::time_point::max();
  bool stopping = false;
  std::map<std::string, std::shared_ptr<pool::ModelEntry>> entries;
  std::thread timer;
};

void ModelPool::Impl::timer_loop() {
  std::unique_lock<std::mutex> lock(mutex);
  while (!stopping) {
    const auto now = pool::Clock::now();
    const auto tick = now + options.maintenance_interval;
    wake.wait_until(lock, std::min(tick, next_wake));
    if (stopping) return;
    next_wake = pool::Clock::time_point::max();
    std::vector<std::shared_ptr<pool::ModelEntry>> current;
    for (auto& [key, entry] : entries) current.push_back(entry);
    lock.unlock();
    for (auto& entry : current) entry->maintain(pool::Clock::now());
    lock.lock();
  }
}

namespace {

// The Embedder of one pool key. Holds the pool's state (`impl`) alive, as its entry does.
class PooledEmbedder : public Embedder {
 public:
  PooledEmbedder(std::shared_ptr<pool::ModelEntry> entry, std::shared_ptr<ModelPool::Impl> impl)
      : entry_(std::move(entry)), impl_(std::move(impl)) {}

  int dimension() const override { return entry_->config().dimension(); }

  ModelCapabilities capabilities() override { return entry_->loaded_model()->capabilities(); }

  Tokens tokenize(const std::string& text) override {
    const auto model = entry_->loaded_model();
    Tokens tokens;
    tokens.ids = model->tokenize(text);
    tokens.pieces.reserve(tokens.ids.size());
    for (int32_t id : tokens.ids) tokens.pieces.push_back(model->token_text(id));
    return tokens;
  }

  // The request's finish: `done` for input `index` with the timing the request recorded. It
  // captures the request by reference, which is safe because a request only ever calls its own
  // finish.
  static std::function<void(Embedding*, const Error*)> with_timing(const pool::Request& request,
                                                                   size_t index,
                                                                   InputCallback done) {
    return [&request, index, done = std::move(done)](Embedding* e, const Error* error) {
      EmbedTiming timing;
      if (request.batch_started_at != pool::Clock::time_point{}) {
        timing.queue_seconds =
            std::chrono::duration<double>(request.batch_started_at - request.admitted_at).count();
        timing.compute_seconds = request.compute_seconds;
      }
      done(index, e, error, timing);
    };
  }

  // The group is admitted whole (ModelEntry::admit); each input then starts: a text is
  // tokenized and an image decoded on the runtime, and a URL is first downloaded on the I/O
  // thread when a download slot is free, so that no compute thread waits on the network (it
  // counts against the queue from its admission on).
  void submit(std::vector<EmbedInput> inputs, const EmbedOptions& options, InputCallback done,
              std::shared_ptr<Cancellation> cancellation) override {
    std::vector<pool::RequestPtr> group;
    group.reserve(inputs.size());
    const std::shared_ptr<ModelPool::Impl> impl = impl_;
    for (size_t i = 0; i < inputs.size(); ++i) {
      auto request = std::make_shared<pool::Request>();
      request->finish = with_timing(*request, i, done);
      request->normalize = options.normalize;
      if (inputs[i].is_text()) {
        request->kind = pool::Request::kText;
        request->text = std::move(inputs[i].as_text());
      } else if (const ImageInput& input = inputs[i].as_image();
                 input.kind() == ImageInput::Kind::kUrl) {
        request->url = input.text();
      } else {
        request->produce = [input, impl](const ClipModel& model) {
          DecodeReservation reservation(impl->decode_budget);
          return model::crop_of(model, input, &reservation);
        };
      }
      group.push_back(std::move(request));
    }
    // Watched before admission, so that a group still waiting for room is cancelled too.
    for (const pool::RequestPtr& r : group) watch(r, cancellation);
    entry_->admit(std::move(group), [entry = entry_, impl](const pool::RequestPtr& r) {
      if (r->url.empty()) return entry->start(r);
      download(entry, impl, r);
    });
  }

 private:
  // Cancelling ends the request at once (and its download, if any).
  void watch(const pool::RequestPtr& request, const std::shared_ptr<Cancellation>& cancellation) {
    if (cancellation == nullptr) return;
    cancellation->on_cancel([entry = std::weak_ptr<pool::ModelEntry>(entry_),
                             weak = std::weak_ptr<pool::Request>(request)] {
      const auto e = entry.lock();
      const auto r = weak.lock();
      if (e != nullptr && r != nullptr) e->cancel(r, "the request was cancelled");
    });
  }

  static void download(const std::shared_ptr<pool::ModelEntry>& entry,
                       const std::shared_ptr<ModelPool::Impl>& impl, const pool::RequestPtr& r) {
    impl->downloads.run([entry, impl, request = r] {
      if (!entry->admitted(request)) return impl->downloads.release();  // Cancelled meanwhile.
      request->download = image::fetch_url(
          request->url, impl->options.input.url,
          [entry, impl, request](std::vector<uint8_t>* body, const Error* error) {
            request->download = 0;
            impl->downloads.release();
            if (error != nullptr) {
              entry->fail(request, *error);
              return;
            }
            auto bytes = std::make_shared<std::vector<uint8_t>>(std::move(*body));
            request->produce = [bytes, url = request->url, impl](const ClipModel& model) {
              DecodeReservation reservation(impl->decode_budget);
              return model::crop_of_download(model, url, *bytes, &reservation);
            };
            entry->start(request);
          });
    });
  }

  std::shared_ptr<pool::ModelEntry> entry_;
  std::shared_ptr<ModelPool::Impl> impl_;
};

}  // namespace

ModelPool::ModelPool(PoolOptions options) : impl_(std::make_shared<Impl>(std::move(options))) {
  impl_->timer = std::thread([impl = impl_.get()] { impl->timer_loop(); });
}

ModelPool::~ModelPool() {
  shutdown();
  // Entries keep the pool's state alive (see ModelEntry's `owner`); dropping them here breaks the
  // cycle, so the state goes when the last embedder or in-flight download lets go of its entry.
  std::lock_guard<std::mutex> lock(impl_->mutex);
  impl_->entries.clear();
}

const PoolOptions& ModelPool::options() const { return impl_->options; }

std::shared_ptr<Embedder> ModelPool::embedder(const std::string& key) {
  // Entry methods are called without the pool's mutex: entries call back into the pool (wake_at)
  // while holding their own, so holding both here would invert the lock order.
  std::shared_ptr<pool::ModelEntry> created;
  std::unique_lock<std::mutex> lock(impl_->mutex);
  auto& entry = impl_->entries[key];
  if (entry == nullptr) {
    // A configured key maps to its directory; any other key is a directory or a repo id in the
    // Hugging Face cache, resolved (with its errors) when the model is first needed.
    auto it = impl_->options.model_directories.find(key);
    const std::string reference = it != impl_->options.model_directories.end() ? it->second : key;
    Impl* impl = impl_.get();
    entry = std::make_shared<pool::ModelEntry>(
        key, reference, impl_->options, impl_->budget,
        [impl](pool::Clock::time_point when) { impl->wake_at(when); }, impl_);
    if (impl_->stopping) created = entry;
  }
  auto result = std::make_shared<PooledEmbedder>(entry, impl_);
  lock.unlock();
  if (created != nullptr) created->shutdown();
  return result;
}

std::shared_ptr<Embedder> ModelPool::load(const std::string& key) {
  std::shared_ptr<Embedder> result = embedder(key);
  model(key);
  return result;
}

std::shared_ptr<const ClipModel> ModelPool::model(const std::string& key) {
  embedder(key);  // Creates the entry if needed.
  std::shared_ptr<pool::ModelEntry> entry;
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    entry = impl_->entries.at(key);
  }
  return entry->loaded_model();
}

void ModelPool::shutdown() {
  std::vector<std::shared_ptr<pool::ModelEntry>> entries;
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    impl_->stopping = true;
    for (auto& [key, entry] : impl_->entries) entries.push_back(entry);
  }
  impl_->wake.notify_all();
  if (impl_->timer.joinable()) impl_->timer.join();
  for (auto& entry : entries) entry->shutdown();
}

void ModelPool::with_decoded_image(std::span<const uint8_t> encoded,
                                   const std::function<void(const Image&)>& use) const {
  DecodeReservation reservation(impl_->decode_budget);
  const Image image = image::decode(
      encoded, {.max_pixels = impl_->options.input.decode.max_pixels, .memory = &reservation});
  use(image);
}

PoolStats ModelPool::pool_stats() const {
  PoolStats s;
  std::tie(s.url_downloads, s.url_downloads_waiting) = impl_->downloads.counts();
  s.decode_bytes = impl_->decode_budget.total() - impl_->decode_budget.headroom();
  return s;
}

ModelStats ModelPool::stats(const std::string& key) const {
  std::shared_ptr<pool::ModelEntry> entry;
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    auto it = impl_->entries.find(key);
    if (it == impl_->entries.end()) return {};
    entry = it->second;
  }
  return entry->stats();
}

void DurationHistogram::add(double seconds) {
  size_t b = 0;
  while (b < std::size(kBounds) && seconds > kBounds[b]) ++b;
  ++counts[b];
  sum += seconds;
  ++count;
}

}  // namespace clipembed
