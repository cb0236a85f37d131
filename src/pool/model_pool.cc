#include <algorithm>
#include <condition_variable>
#include <set>
#include <thread>

#include "clipembed/model.h"
#include "clipembed/pool.h"
#include "clipembed/runtime.h"
#include "image/image_loader.h"
#include "model/text_transformer.h"
#include "model/vision_transformer.h"
#include "pool/memory_budget.h"
#include "pool/model_entry.h"

namespace clipembed {
namespace {

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

  int dimension() const override { return entry_->config().dimension(); }

  std::future<Embedding> embed_image_async(const ImageInput& input,
                                           const EmbedOptions& options) override {
    auto promise = std::make_shared<std::promise<Embedding>>();
    auto future = promise->get_future();
    submit(input, options, to_promise(std::move(promise)));
    return future;
  }

  std::future<std::vector<EmbeddingResult>> embed_images_async(
      const std::vector<ImageInput>& inputs, const EmbedOptions& options) override {
    struct Gather {
      std::mutex mutex;
      std::vector<EmbeddingResult> results;
      size_t remaining;
      std::promise<std::vector<EmbeddingResult>> promise;
    };
    auto gather = std::make_shared<Gather>();
    gather->results.resize(inputs.size());
    gather->remaining = inputs.size();
    auto future = gather->promise.get_future();
    if (inputs.empty()) gather->promise.set_value({});
    for (size_t i = 0; i < inputs.size(); ++i) {
      submit(inputs[i], options, [gather, i](Embedding* e, const Error* error) {
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
  // Queues one input. A URL is downloaded on the I/O thread first, so that no compute thread
  // waits on the network; its bytes then join the queue like any other input.
  void submit(const ImageInput& input, const EmbedOptions& options,
              std::function<void(Embedding*, const Error*)> finish) {
    const InputLimits& limits = options_.input;
    const bool normalize = options.normalize;
    if (input.kind() != ImageInput::Kind::kUrl) {
      entry_->submit([input, limits] { return image::load_image(input, limits); },
                     std::move(finish), normalize);
      return;
    }
    image::fetch_url(
        input.text(), limits.url,
        [entry = entry_, url = input.text(), limits, normalize, finish = std::move(finish)](
            std::vector<uint8_t>* body, const Error* error) {
          if (error != nullptr) return finish(nullptr, error);
          auto bytes = std::make_shared<std::vector<uint8_t>>(std::move(*body));
          entry->submit(
              [bytes, url, limits] { return image::decode_downloaded(url, *bytes, limits); },
              finish, normalize);
        });
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
  auto result = std::make_shared<PooledEmbedder>(entry, impl_->options);
  lock.unlock();
  if (created != nullptr) created->shutdown();
  return result;
}

std::shared_ptr<ImageEmbedder> ModelPool::load(const std::string& key) {
  std::shared_ptr<ImageEmbedder> result = embedder(key);
  std::shared_ptr<pool::ModelEntry> entry;
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    entry = impl_->entries.at(key);
  }
  entry->loaded_model();
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

MemoryEstimate estimate_memory(const VisionConfig& config, int batch_size, Precision precision) {
  MemoryEstimate e;
  e.weight_bytes = static_cast<uint64_t>(config.parameter_count()) * sizeof(float);
  if (precision == Precision::kInt8) {
    // The encoder's products become one byte per weight plus a scale and a code sum per output
    // channel; their float32 copies are released (biases and everything else stay float32).
    const uint64_t d = static_cast<uint64_t>(config.hidden_size);
    const uint64_t f = static_cast<uint64_t>(config.intermediate_size);
    const uint64_t layers = static_cast<uint64_t>(config.num_hidden_layers);
    const uint64_t weights = layers * (4 * d * d + 2 * d * f);
    const uint64_t channels = layers * (4 * d + f + d);
    e.weight_bytes -= weights * sizeof(float);
    e.weight_bytes += weights + channels * (sizeof(float) + sizeof(int32_t));
  }
  e.activation_bytes_per_worker = static_cast<uint64_t>(
      model::VisionTransformer::activation_bytes(config, std::max(1, batch_size), precision));
  return e;
}

MemoryEstimate estimate_memory(const ModelConfig& config, int batch_size, Precision precision) {
  MemoryEstimate e;
  if (config.vision) e = estimate_memory(*config.vision, batch_size, precision);
  if (config.has_text()) {
    const TextConfig& t = *config.text;
    uint64_t weights = static_cast<uint64_t>(t.parameter_count()) * sizeof(float);
    if (precision == Precision::kInt8) {
      const uint64_t d = static_cast<uint64_t>(t.hidden_size);
      const uint64_t f = static_cast<uint64_t>(t.intermediate_size);
      const uint64_t products =
          static_cast<uint64_t>(t.num_hidden_layers) * (4 * d * d + 2 * d * f);
      const uint64_t channels = static_cast<uint64_t>(t.num_hidden_layers) * (5 * d + f);
      weights = weights - products * sizeof(float) + products +
                channels * (sizeof(float) + sizeof(int32_t));
    }
    e.weight_bytes += weights;
    // A worker runs one batch at a time, of images or of texts.
    e.activation_bytes_per_worker =
        std::max<uint64_t>(e.activation_bytes_per_worker,
                           static_cast<uint64_t>(model::TextTransformer::activation_bytes(
                               t, std::max(1, batch_size), precision)));
  }
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
Embedding ImageEmbedder::embed_image(const ImageInput& input, const EmbedOptions& options) {
  auto f = embed_image_async(input, options);
  return shared_runtime().wait(f);
}

std::vector<EmbeddingResult> ImageEmbedder::embed_images(const std::vector<ImageInput>& inputs,
                                                         const EmbedOptions& options) {
  auto f = embed_images_async(inputs, options);
  return shared_runtime().wait(f);
}

}  // namespace clipembed
