#include <sys/stat.h>

#include <algorithm>
#include <condition_variable>
#include <set>
#include <thread>

#include "clipembed/model.h"
#include "clipembed/pool.h"
#include "clipembed/runtime.h"
#include "io/address_policy.h"
#include "io/base64.h"
#include "io/url_fetcher.h"
#include "model/vision_transformer.h"
#include "pool/memory_budget.h"
#include "pool/model_entry.h"

namespace clipembed {
namespace {

bool is_directory(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// Completes a promise from a request's finish callback.
std::function<void(Embedding*, const Error*)> to_promise(
    std::shared_ptr<std::promise<Embedding>> promise) {
  return [promise = std::move(promise)](Embedding* e, const Error* error) {
    if (error != nullptr) {
      promise->set_exception(std::make_exception_ptr(*error));
    } else {
      promise->set_value(std::move(*e));
    }
  };
}

io::UrlOptions url_options(const UrlLimits& limits) {
  io::UrlOptions o{limits.connect_timeout, limits.total_timeout, limits.max_bytes,
                   limits.max_redirects, nullptr};
  if (!limits.allow_private_addresses) o.refuse_address = io::is_non_public_address;
  return o;
}

}  // namespace

struct ModelPool::Impl {
  explicit Impl(PoolOptions o)
      : options(std::move(o)),
        budget(options.memory_budget_bytes != 0 ? options.memory_budget_bytes
                                                : pool::physical_memory_bytes() / 5 * 4) {}

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

// The ImageEmbedder of one pool key.
class PooledEmbedder : public ImageEmbedder {
 public:
  PooledEmbedder(std::shared_ptr<pool::ModelEntry> entry, const PoolOptions& options)
      : entry_(std::move(entry)), options_(options) {}

  int embedding_dimension() override { return entry_->loaded_model()->dimension(); }

  std::future<Embedding> embed_image_async(const std::string& path) override {
    const DecodeOptions decode = options_.decode;
    return submit([path, decode] { return read_image_file(path, decode); });
  }

  std::future<Embedding> embed_image_base64_async(const std::string& data) override {
    const DecodeOptions decode = options_.decode;
    const size_t limit = options_.max_base64_bytes;
    return submit(
        [data, decode, limit] { return decode_image(io::decode_base64(data, limit), decode); });
  }

  std::future<Embedding> embed_image_bytes_async(std::vector<uint8_t> bytes) override {
    const DecodeOptions decode = options_.decode;
    auto shared = std::make_shared<std::vector<uint8_t>>(std::move(bytes));
    return submit([shared, decode] { return decode_image(*shared, decode); });
  }

  std::future<Embedding> embed_image_url_async(const std::string& url) override {
    // The download runs on the I/O thread; the bytes then join the queue like any request.
    auto promise = std::make_shared<std::promise<Embedding>>();
    auto future = promise->get_future();
    const DecodeOptions decode = options_.decode;
    const UrlLimits& limits = options_.url;
    io::UrlFetcher::instance().fetch(
        url, url_options(limits),
        [entry = entry_, promise, decode](std::vector<uint8_t>* body, const Error* error) {
          if (error != nullptr) {
            promise->set_exception(std::make_exception_ptr(*error));
            return;
          }
          auto bytes = std::make_shared<std::vector<uint8_t>>(std::move(*body));
          entry->submit([bytes, decode] { return decode_image(*bytes, decode); },
                        to_promise(promise));
        });
    return future;
  }

  std::future<std::vector<EmbeddingResult>> batch_embed_images_async(
      const std::vector<std::string>& paths) override {
    struct Gather {
      std::mutex mutex;
      std::vector<EmbeddingResult> results;
      size_t remaining;
      std::promise<std::vector<EmbeddingResult>> promise;
    };
    auto gather = std::make_shared<Gather>();
    gather->results.resize(paths.size());
    gather->remaining = paths.size();
    auto future = gather->promise.get_future();
    if (paths.empty()) gather->promise.set_value({});
    for (size_t i = 0; i < paths.size(); ++i) {
      const DecodeOptions decode = options_.decode;
      const std::string& path = paths[i];
      entry_->submit([path, decode] { return read_image_file(path, decode); },
                     [gather, i](Embedding* e, const Error* error) {
                       std::unique_lock<std::mutex> lock(gather->mutex);
                       if (error != nullptr) {
                         gather->results[i].error = *error;
                       } else {
                         gather->results[i].embedding = std::move(*e);
                       }
                       if (--gather->remaining == 0) {
                         lock.unlock();
                         gather->promise.set_value(std::move(gather->results));
                       }
                     });
    }
    return future;
  }

 private:
  std::future<Embedding> submit(std::function<Image()> produce) {
    auto promise = std::make_shared<std::promise<Embedding>>();
    auto future = promise->get_future();
    entry_->submit(std::move(produce), to_promise(std::move(promise)));
    return future;
  }

  std::shared_ptr<pool::ModelEntry> entry_;
  const PoolOptions& options_;
};

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

std::shared_ptr<ImageEmbedder> ModelPool::embedder(const std::string& key) {
  // Entry methods are called without the pool's mutex: entries call back into the pool (wake_at)
  // while holding their own, so holding both here would invert the lock order.
  std::shared_ptr<pool::ModelEntry> created;
  std::unique_lock<std::mutex> lock(impl_->mutex);
  auto& entry = impl_->entries[key];
  if (entry == nullptr) {
    // A directory, a configured key, or a repo id in the Hugging Face cache; an unknown key keeps
    // its name and fails at load time like any missing model.
    std::string directory = key;
    auto it = impl_->options.model_directories.find(key);
    if (it != impl_->options.model_directories.end()) {
      directory = it->second;
    } else if (!is_directory(key)) {
      try {
        directory = locate_model(key);
      } catch (const Error&) {
      }
    }
    Impl* impl = impl_.get();
    entry = std::make_shared<pool::ModelEntry>(
        key, directory, impl_->options, impl_->budget,
        [impl](pool::Clock::time_point when) { impl->wake_at(when); }, impl_);
    if (impl_->stopping) created = entry;
  }
  auto result = std::make_shared<PooledEmbedder>(entry, impl_->options);
  lock.unlock();
  if (created != nullptr) created->shutdown();
  return result;
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

MemoryEstimate estimate_memory(const VisionConfig& config, int batch_size) {
  MemoryEstimate e;
  e.weight_bytes = static_cast<uint64_t>(config.parameter_count()) * sizeof(float);
  e.activation_bytes_per_worker = static_cast<uint64_t>(
      model::VisionTransformer::activation_bytes(config, std::max(1, batch_size)));
  return e;
}

std::vector<KnownModel> known_models(int batch_size) {
  // Architectures of the published OpenAI CLIP checkpoints (their config.json values).
  struct Arch {
    const char* key;
    int width, layers, heads, patch, image, projection;
  };
  static const Arch kArchs[] = {
      {"openai/clip-vit-base-patch32", 768, 12, 12, 32, 224, 512},
      {"openai/clip-vit-base-patch16", 768, 12, 12, 16, 224, 512},
      {"openai/clip-vit-large-patch14", 1024, 24, 16, 14, 224, 768},
      {"openai/clip-vit-large-patch14-336", 1024, 24, 16, 14, 336, 768},
  };
  std::vector<KnownModel> out;
  for (const Arch& a : kArchs) {
    VisionConfig c;
    c.hidden_size = a.width;
    c.intermediate_size = 4 * a.width;
    c.num_hidden_layers = a.layers;
    c.num_attention_heads = a.heads;
    c.patch_size = a.patch;
    c.image_size = a.image;
    c.projection_dim = a.projection;
    out.push_back({a.key, a.projection, estimate_memory(c, batch_size)});
  }
  return out;
}

std::vector<int> supported_dimensions() {
  std::set<int> dims;
  for (const KnownModel& m : known_models()) dims.insert(m.dimension);
  return {dims.begin(), dims.end()};
}

// Synchronous forms of the capability: the asynchronous ones, awaited on the runtime.
Embedding ImageEmbedder::embed_image(const std::string& path) {
  auto f = embed_image_async(path);
  return shared_runtime().wait(f);
}
Embedding ImageEmbedder::embed_image_url(const std::string& url) {
  auto f = embed_image_url_async(url);
  return shared_runtime().wait(f);
}
Embedding ImageEmbedder::embed_image_base64(const std::string& data) {
  auto f = embed_image_base64_async(data);
  return shared_runtime().wait(f);
}
Embedding ImageEmbedder::embed_image_bytes(std::vector<uint8_t> bytes) {
  auto f = embed_image_bytes_async(std::move(bytes));
  return shared_runtime().wait(f);
}
std::vector<EmbeddingResult> ImageEmbedder::batch_embed_images(
    const std::vector<std::string>& paths) {
  auto f = batch_embed_images_async(paths);
  return shared_runtime().wait(f);
}

}  // namespace clipembed
