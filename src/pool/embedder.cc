// The Embedder interface's helpers (futures, batches, synchronous forms) over its two primitives,
// and Cancellation.
#include "clipembed/embedder.h"

#include <memory>
#include <mutex>

#include "clipembed/runtime.h"
#include "pool/fanout.h"

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

// One result per input of a group (pool/fanout.h), gathered into one future.
std::future<std::vector<EmbeddingResult>> gather(Embedder& embedder, std::vector<EmbedInput> inputs,
                                                 const EmbedOptions& options) {
  auto promise = std::make_shared<std::promise<std::vector<EmbeddingResult>>>();
  auto future = promise->get_future();
  pool::submit_group(
      embedder, std::move(inputs), options, pool::FailurePolicy::kPerInput, nullptr,
      [promise](pool::GroupOutcome& outcome) { promise->set_value(std::move(outcome.results)); });
  return future;
}

// A group's callback for its one input.
InputCallback only_input(EmbeddingCallback done) {
  return [done = std::move(done)](size_t, Embedding* e, const Error* error,
                                  const EmbedTiming& timing) { done(e, error, timing); };
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

void Embedder::submit_image(const ImageInput& input, const EmbedOptions& options,
                            EmbeddingCallback done, std::shared_ptr<Cancellation> cancellation) {
  std::vector<EmbedInput> inputs;
  inputs.push_back(EmbedInput::image(input));
  submit(std::move(inputs), options, only_input(std::move(done)), std::move(cancellation));
}

void Embedder::submit_text(std::string text, const EmbedOptions& options, EmbeddingCallback done,
                           std::shared_ptr<Cancellation> cancellation) {
  std::vector<EmbedInput> inputs;
  inputs.push_back(EmbedInput::text(std::move(text)));
  submit(std::move(inputs), options, only_input(std::move(done)), std::move(cancellation));
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
  std::vector<EmbedInput> group;
  group.reserve(inputs.size());
  for (const ImageInput& input : inputs) group.push_back(EmbedInput::image(input));
  return gather(*this, std::move(group), options);
}

std::future<std::vector<EmbeddingResult>> Embedder::embed_texts_async(
    const std::vector<std::string>& texts, const EmbedOptions& options) {
  std::vector<EmbedInput> group;
  group.reserve(texts.size());
  for (const std::string& text : texts) group.push_back(EmbedInput::text(text));
  return gather(*this, std::move(group), options);
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
