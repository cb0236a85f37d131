// The Embedder interface's helpers (futures, batches, synchronous forms) over its two primitives,
// and Cancellation.
#include "clipembed/embedder.h"

#include <memory>
#include <mutex>

#include "clipembed/runtime.h"

namespace clipembed {
namespace {

// A callback that completes `promise`.
EmbeddingCallback to_promise(std::shared_ptr<std::promise<Embedding>> promise) {
  return [promise = std::move(promise)](Embedding* e, const Error* error, const EmbedTiming&) {
    if (error != nullptr) {
      promise->set_exception(std::make_exception_ptr(*error));
    } else {
      promise->set_value(std::move(*e));
    }
  };
}

// One result per request `start(i, done)` submits, gathered into one future.
std::future<std::vector<EmbeddingResult>> gather(
    size_t count, const std::function<void(size_t, EmbeddingCallback)>& start) {
  struct Gather {
    std::mutex mutex;
    std::vector<EmbeddingResult> results;
    size_t remaining = 0;
    std::promise<std::vector<EmbeddingResult>> promise;
  };
  auto state = std::make_shared<Gather>();
  state->results.resize(count);
  state->remaining = count;
  auto future = state->promise.get_future();
  if (count == 0) state->promise.set_value({});
  for (size_t i = 0; i < count; ++i) {
    start(i, [state, i](Embedding* e, const Error* error, const EmbedTiming&) {
      std::unique_lock<std::mutex> lock(state->mutex);
      if (error != nullptr) {
        state->results[i].error = *error;
      } else {
        state->results[i].embedding = std::move(*e);
      }
      if (--state->remaining == 0) {
        lock.unlock();
        state->promise.set_value(std::move(state->results));
      }
    });
  }
  return future;
}

}  // namespace

void Cancellation::cancel() {
  std::vector<std::function<void()>> hooks;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (cancelled_) return;
    cancelled_ = true;
    hooks.swap(hooks_);
  }
  for (auto& hook : hooks) hook();
}

bool Cancellation::cancelled() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return cancelled_;
}

void Cancellation::on_cancel(std::function<void()> hook) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!cancelled_) {
      hooks_.push_back(std::move(hook));
      return;
    }
  }
  hook();
}

std::future<Embedding> Embedder::embed_image_async(const ImageInput& input,
                                                   const EmbedOptions& options) {
  auto promise = std::make_shared<std::promise<Embedding>>();
  auto future = promise->get_future();
  submit_image(input, options, to_promise(std::move(promise)));
  return future;
}

std::future<Embedding> Embedder::embed_text_async(std::string text, const EmbedOptions& options) {
  auto promise = std::make_shared<std::promise<Embedding>>();
  auto future = promise->get_future();
  submit_text(std::move(text), options, to_promise(std::move(promise)));
  return future;
}

std::future<std::vector<EmbeddingResult>> Embedder::embed_images_async(
    const std::vector<ImageInput>& inputs, const EmbedOptions& options) {
  return gather(inputs.size(), [&](size_t i, EmbeddingCallback done) {
    submit_image(inputs[i], options, std::move(done));
  });
}

std::future<std::vector<EmbeddingResult>> Embedder::embed_texts_async(
    const std::vector<std::string>& texts, const EmbedOptions& options) {
  return gather(texts.size(), [&](size_t i, EmbeddingCallback done) {
    submit_text(texts[i], options, std::move(done));
  });
}

// Synchronous forms: the asynchronous ones, awaited on the runtime.
Embedding Embedder::embed_image(const ImageInput& input, const EmbedOptions& options) {
  auto f = embed_image_async(input, options);
  return shared_runtime().wait(f);
}

std::vector<EmbeddingResult> Embedder::embed_images(const std::vector<ImageInput>& inputs,
                                                    const EmbedOptions& options) {
  auto f = embed_images_async(inputs, options);
  return shared_runtime().wait(f);
}

Embedding Embedder::embed_text(std::string text, const EmbedOptions& options) {
  auto f = embed_text_async(std::move(text), options);
  return shared_runtime().wait(f);
}

std::vector<EmbeddingResult> Embedder::embed_texts(const std::vector<std::string>& texts,
                                                   const EmbedOptions& options) {
  auto f = embed_texts_async(texts, options);
  return shared_runtime().wait(f);
}

}  // namespace clipembed
