// clipembed/embedder.h: the embedding capability (images and texts), as an interface other
// backends can implement. It speaks the model's vocabulary (model.h): embed_image, embed_images,
// embed_text, embed_texts, dimension.
//
//   std::shared_ptr<clipembed::Embedder> e = pool.embedder("openai/clip-vit-base-patch32");
//   clipembed::Embedding v = e->embed_image("cat.jpg", {.normalize = true});   // blocks; throws
//   std::future<clipembed::Embedding> f = e->embed_image_async(ImageInput::url(url));
//   auto results = e->embed_images({"a.jpg", "broken.jpg"});   // one result per input
//   clipembed::Embedding t = e->embed_text("a photo of a cat", {.normalize = true});
//
// Threading rule: every method may be called from any thread, concurrently. Asynchronous forms
// complete on the shared runtime; their errors arrive as clipembed::Error from future::get().
// Synchronous forms are safe on a runtime thread too: they help run queued work while waiting.
#pragma once

#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "clipembed/error.h"
#include "clipembed/input.h"
#include "clipembed/model.h"

namespace clipembed {

// A handle that cancels the requests it is given to, all at once: those still waiting (in the
// queue, decoding, or downloading a URL) fail with kCancelled and their downloads stop. A server
// gives one to every input of an HTTP request and cancels it when the request fails on one
// input, passes its deadline or loses its client. Thread-safe.
class Cancellation {
 public:
  void cancel();
  bool cancelled() const;
  // Runs `hook` when cancel() is called (at once if it already was). Hooks must be quick and must
  // not block; they run on the thread that cancels.
  void on_cancel(std::function<void()> hook);

 private:
  mutable std::mutex mutex_;
  bool cancelled_ = false;
  std::vector<std::function<void()>> hooks_;
};

// The outcome for one input of a batch: an embedding, or the error for that input alone.
struct EmbeddingResult {
  Embedding embedding;
  std::optional<Error> error;
  bool ok() const { return !error.has_value(); }
};

// Where one request's time went: from its admission to the start of its forward pass (any
// download, decoding or tokenizing, and waiting for a worker), and that forward pass (of its whole
// batch). Zero for a request that never reached one.
struct EmbedTiming {
  double queue_seconds = 0;
  double compute_seconds = 0;
};

// Called exactly once with the vector or the error (one of them null) and the request's timing,
// on a runtime thread, the URL fetcher's thread, or at once on the calling thread for a request
// refused outright.
using EmbeddingCallback =
    std::function<void(Embedding* embedding, const Error* error, const EmbedTiming& timing)>;
// The same for one input of a group, with its index in the group.
using InputCallback = std::function<void(size_t index, Embedding* embedding, const Error* error,
                                         const EmbedTiming& timing)>;

// One input of a group: an image or a text.
class EmbedInput {
 public:
  static EmbedInput image(ImageInput input) { return EmbedInput(std::move(input)); }
  static EmbedInput text(std::string text) { return EmbedInput(std::move(text)); }

  bool is_text() const { return std::holds_alternative<std::string>(value_); }
  const ImageInput& as_image() const { return std::get<ImageInput>(value_); }
  const std::string& as_text() const { return std::get<std::string>(value_); }
  std::string& as_text() { return std::get<std::string>(value_); }

 private:
  explicit EmbedInput(ImageInput input) : value_(std::move(input)) {}
  explicit EmbedInput(std::string text)
      : value_(std::in_place_type<std::string>, std::move(text)) {}
  std::variant<ImageInput, std::string> value_;
};

class Embedder {
 public:
  virtual ~Embedder() = default;

  // The embedding dimension, from the model's config (no weights are loaded for it). Throws
  // Error(kModelInvalid) when the model cannot be found or its config is invalid.
  virtual int dimension() const = 0;

  // What the model can do (model.h): its family, towers, dimension and zero-shot rule. Loads the
  // model if it is not loaded (waiting for it); throws the load error.
  virtual ModelCapabilities capabilities() = 0;

  // A text's token ids as the model sees them (ClipModel::tokenize), each with its vocabulary
  // entry. Loads the model if needed; throws as submit() would for the text.
  struct Tokens {
    std::vector<int32_t> ids;
    std::vector<std::string> pieces;
  };
  virtual Tokens tokenize(const std::string& text) = 0;

  // The primitive: queues a group of inputs (one caller's request) as one unit of work. The
  // group is admitted whole or waits, in order, until the queue has room for all of it (up to
  // the deadline); a group larger than the whole queue fails at once with kRequestTooLarge, and
  // one that finds the waiting line full with kOverloaded. `done` is called exactly once per
  // input with its index. With `cancellation`, inputs still waiting, queued, decoding or
  // downloading give up (kCancelled) as soon as it is cancelled. Texts need a model with a text
  // tower (else kUnsupportedModality, or kModelInvalid naming missing tokenizer files); invalid
  // UTF-8 fails with kInvalidText.
  virtual void submit(std::vector<EmbedInput> inputs, const EmbedOptions& options,
                      InputCallback done, std::shared_ptr<Cancellation> cancellation = nullptr) = 0;

  // A group of one image or one text.
  void submit_image(const ImageInput& input, const EmbedOptions& options, EmbeddingCallback done,
                    std::shared_ptr<Cancellation> cancellation = nullptr);
  void submit_text(std::string text, const EmbedOptions& options, EmbeddingCallback done,
                   std::shared_ptr<Cancellation> cancellation = nullptr);

  // Futures over the primitives; errors arrive as clipembed::Error from future::get().
  std::future<Embedding> embed_image_async(const ImageInput& input,
                                           const EmbedOptions& options = {});
  std::future<Embedding> embed_text_async(std::string text, const EmbedOptions& options = {});
  // One result per input, in order; a bad input fails alone. The inputs are one group (see
  // submit()).
  std::future<std::vector<EmbeddingResult>> embed_images_async(
      const std::vector<ImageInput>& inputs, const EmbedOptions& options = {});
  std::future<std::vector<EmbeddingResult>> embed_texts_async(const std::vector<std::string>& texts,
                                                              const EmbedOptions& options = {});

  // Synchronous forms: the asynchronous ones, awaited (see the threading rule above).
  Embedding embed_image(const ImageInput& input, const EmbedOptions& options = {});
  std::vector<EmbeddingResult> embed_images(const std::vector<ImageInput>& inputs,
                                            const EmbedOptions& options = {});
  Embedding embed_text(std::string text, const EmbedOptions& options = {});
  std::vector<EmbeddingResult> embed_texts(const std::vector<std::string>& texts,
                                           const EmbedOptions& options = {});
};

}  // namespace clipembed
