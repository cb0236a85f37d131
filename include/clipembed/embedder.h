// clipembed/embedder.h: the image-embedding capability, as an interface other backends can
// implement.
//
//   std::shared_ptr<clipembed::ImageEmbedder> e = pool.embedder("openai/clip-vit-base-patch32");
//   std::vector<float> v = e->embed_image("cat.jpg");                  // blocks; throws Error
//   std::future<std::vector<float>> f = e->embed_image_async("dog.png");
//   auto results = e->batch_embed_images({"a.jpg", "broken.jpg"});     // one result per input
//
// Threading rule: every method may be called from any thread, concurrently. Asynchronous forms
// complete on the shared runtime; their errors arrive as clipembed::Error from future::get().
// Synchronous forms are safe on a runtime thread too: they help run queued work while waiting.
#pragma once

#include <cstdint>
#include <future>
#include <optional>
#include <string>
#include <vector>

#include "clipembed/error.h"

namespace clipembed {

using Embedding = std::vector<float>;

// The outcome for one input of a batch: an embedding, or the error for that input alone.
struct EmbeddingResult {
  Embedding embedding;
  std::optional<Error> error;
  bool ok() const { return !error.has_value(); }
};

class ImageEmbedder {
 public:
  virtual ~ImageEmbedder() = default;

  virtual int embedding_dimension() = 0;

  virtual std::future<Embedding> embed_image_async(const std::string& path) = 0;
  virtual std::future<Embedding> embed_image_url_async(const std::string& url) = 0;
  // Plain base64 or a data:image/...;base64, URI.
  virtual std::future<Embedding> embed_image_base64_async(const std::string& data) = 0;
  // An encoded image already in memory (e.g. an HTTP request body).
  virtual std::future<Embedding> embed_image_bytes_async(std::vector<uint8_t> bytes) = 0;
  virtual std::future<std::vector<EmbeddingResult>> batch_embed_images_async(
      const std::vector<std::string>& paths) = 0;

  // Synchronous forms: the asynchronous ones, awaited (see the threading rule above).
  Embedding embed_image(const std::string& path);
  Embedding embed_image_url(const std::string& url);
  Embedding embed_image_base64(const std::string& data);
  Embedding embed_image_bytes(std::vector<uint8_t> bytes);
  std::vector<EmbeddingResult> batch_embed_images(const std::vector<std::string>& paths);
};

}  // namespace clipembed
