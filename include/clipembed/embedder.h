// clipembed/embedder.h: the image-embedding capability, as an interface other backends can
// implement. It speaks the model's vocabulary (model.h): embed_image, embed_images, dimension.
//
//   std::shared_ptr<clipembed::ImageEmbedder> e = pool.embedder("openai/clip-vit-base-patch32");
//   clipembed::Embedding v = e->embed_image("cat.jpg", {.normalize = true});   // blocks; throws
//   std::future<clipembed::Embedding> f = e->embed_image_async(ImageInput::url(url));
//   auto results = e->embed_images({"a.jpg", "broken.jpg"});   // one result per input
//
// Threading rule: every method may be called from any thread, concurrently. Asynchronous forms
// complete on the shared runtime; their errors arrive as clipembed::Error from future::get().
// Synchronous forms are safe on a runtime thread too: they help run queued work while waiting.
#pragma once

#include <future>
#include <optional>
#include <vector>

#include "clipembed/error.h"
#include "clipembed/input.h"
#include "clipembed/model.h"

namespace clipembed {

// The outcome for one input of a batch: an embedding, or the error for that input alone.
struct EmbeddingResult {
  Embedding embedding;
  std::optional<Error> error;
  bool ok() const { return !error.has_value(); }
};

class ImageEmbedder {
 public:
  virtual ~ImageEmbedder() = default;

  // The embedding dimension, from the model's config (no weights are loaded for it). Throws
  // Error(kModelInvalid) when the model cannot be found or its config is invalid.
  virtual int dimension() const = 0;

  virtual std::future<Embedding> embed_image_async(const ImageInput& input,
                                                   const EmbedOptions& options = {}) = 0;
  // One result per input, in order; a bad input fails alone.
  virtual std::future<std::vector<EmbeddingResult>> embed_images_async(
      const std::vector<ImageInput>& inputs, const EmbedOptions& options = {}) = 0;

  // Synchronous forms: the asynchronous ones, awaited (see the threading rule above).
  Embedding embed_image(const ImageInput& input, const EmbedOptions& options = {});
  std::vector<EmbeddingResult> embed_images(const std::vector<ImageInput>& inputs,
                                            const EmbedOptions& options = {});
};

}  // namespace clipembed
