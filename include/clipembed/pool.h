// clipembed/pool.h: models served by workers on the shared runtime, keyed by name.
//
//   clipembed::PoolOptions options;
//   options.model_directories["openai/clip-vit-base-patch32"] = "/models/clip-vit-base-patch32";
//   clipembed::ModelPool pool(options);
//   auto embedder = pool.embedder("openai/clip-vit-base-patch32");   // loads on first request
//   clipembed::Embedding v = embedder->embed_image("cat.jpg");
//   pool.load("openai/clip-vit-base-patch32");                        // or load it now
//
// A worker is an execution slot (its own activations) running on shared_runtime(), not a thread:
// adding workers or models never adds threads. Weights are loaded once per model and shared by its
// workers. Inputs queue per model (bounded, with a caller's inputs admitted as one group: see
// PoolOptions::max_queued_inputs), and concurrent callers' inputs are coalesced into batches.
//
// Threading rule: every method is thread-safe. The pool owns one timer thread (batch flushing,
// deadlines, idle eviction), whatever the number of models or workers.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "clipembed/embedder.h"
#include "clipembed/image.h"
#include "clipembed/model.h"

namespace clipembed {

struct PoolOptions {
  // Memory the pool may use for weights and activations; 0 means 80% of physical memory.
  uint64_t memory_budget_bytes = 0;
  int max_workers_per_model = 4;
  int max_batch_size = 8;
  std::chrono::microseconds max_batch_wait{2000};
  // Per model: inputs admitted and not yet answered, counting those being downloaded (from the
  // moment they are admitted) and decoded. A caller's group of inputs (Embedder::submit) is
  // admitted whole: at once when the queue has room for all of it, else it waits in line until
  // it has (up to its deadline). A group larger than this is refused at once with
  // kRequestTooLarge (no wait could admit it); one that finds another queue's worth of inputs
  // already waiting is refused with kOverloaded (retry later).
  size_t max_queued_inputs = 4096;
  // URL inputs downloaded at once (across models); the others wait their turn in the queue.
  int max_url_downloads = 16;
  // Bytes all decodes in flight may hold (pixels and the decoder's own buffers), reserved from
  // each image's header before anything is allocated (0: a quarter of the memory budget). An
  // image that does not fit now is refused with kOverloaded (retry later); one that needs more
  // than the whole budget with kImageTooLarge. Nothing is allocated for either.
  uint64_t max_decode_bytes = 0;
  std::chrono::milliseconds request_deadline{30000};
  std::chrono::milliseconds idle_worker_timeout{10000};
  std::chrono::milliseconds idle_model_timeout{300000};
  std::chrono::milliseconds maintenance_interval{100};
  // Consecutive engine faults (failed loads, internal errors) that open a model's circuit breaker,
  // and how long it stays open. Bad user input never counts.
  int breaker_threshold = 5;
  std::chrono::milliseconds breaker_cooldown{10000};
  // How models compute (see Precision in model.h).
  Precision precision = Precision::kF32;
  // Limits every input is read under: pixels, base64 size, URL time, size, redirects and the
  // private-address guard (input.h).
  InputLimits input;
  // Where keys live: a key found here maps to its directory; any other key is used as a directory
  // or, failing that, as a Hugging Face repo id in the local hub cache (see locate_model()).
  std::map<std::string, std::string> model_directories;
};

// Durations as a histogram: counts per bucket (upper bounds kBounds, then +Inf), sum and count.
struct DurationHistogram {
  static constexpr double kBounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                       0.25,  0.5,    1,     2.5,  5,     10,   30};
  std::vector<uint64_t> counts = std::vector<uint64_t>(std::size(kBounds) + 1);
  double sum = 0;
  uint64_t count = 0;
  void add(double seconds);
};

// What the pool knows about a model it has seen.
struct ModelStats {
  bool loaded = false;
  int workers = 0;
  int busy_workers = 0;
  size_t queued = 0;   // Inputs admitted and not yet answered.
  size_t waiting = 0;  // Inputs of groups waiting for room in the queue.
  uint64_t batches = 0;
  uint64_t images = 0;
  uint64_t texts = 0;
  uint64_t loads = 0;
  // batch_sizes[n]: forward passes that ran n images (index 0 unused).
  std::vector<uint64_t> batch_sizes;
  double last_load_seconds = 0;  // Wall time of the latest successful load.
  DurationHistogram queue_wait;  // Admission to the start of the request's forward pass.
  DurationHistogram forward;     // Each forward pass (batch).
  // How long work has waited without the model making progress (a batch finishing, an input
  // decoded): 0 when nothing waits. A healthy model keeps it near its batch time.
  double stalled_seconds = 0;
};

// What the pool as a whole is doing.
struct PoolStats {
  size_t url_downloads = 0;          // URL inputs being downloaded now.
  size_t url_downloads_waiting = 0;  // Admitted URL inputs waiting for a download slot.
  uint64_t decode_bytes = 0;         // Reserved by decodes in flight.
};

class ModelPool {
 public:
  explicit ModelPool(PoolOptions options = {});
  ~ModelPool();  // Calls shutdown().
  ModelPool(const ModelPool&) = delete;
  ModelPool& operator=(const ModelPool&) = delete;

  // The embedder for a key (see PoolOptions::model_directories). The model loads
  // on its first request; a failed load fails the waiting requests and is retried by the next.
  std::shared_ptr<Embedder> embedder(const std::string& key);

  // Loads the model of `key` now (if it is not loaded) and returns its embedder; throws the load
  // error (e.g. kModelInvalid naming the missing file and how to download it, kMemoryExhausted).
  std::shared_ptr<Embedder> load(const std::string& key);

  // The model of `key` as loaded (loading it now if needed), for what an embedder does not do
  // (logit_scale(), label_probabilities()). Its weights are shared with the pool's workers.
  std::shared_ptr<const ClipModel> model(const std::string& key);

  // Stops intake (new requests fail with kCancelled), completes queued requests with kCancelled,
  // waits for running batches, and returns. Idempotent.
  void shutdown();

  // Decodes an encoded image (any supported format) under the pool's decode budget and
  // options().input.decode.max_pixels, and calls `use` with it while its memory is still counted:
  // for work beside embedding that reads images (the server's thumbnails). Runs on the calling
  // thread. Throws kImageTooLarge (it can never fit), kOverloaded (the budget is busy now) or
  // kImageDecode.
  void with_decoded_image(std::span<const uint8_t> encoded,
                          const std::function<void(const Image&)>& use) const;

  ModelStats stats(const std::string& key) const;
  PoolStats pool_stats() const;
  const PoolOptions& options() const;

  struct Impl;  // The pool's state, shared with its embedders (defined inside the library).

 private:
  std::shared_ptr<Impl> impl_;
};

// Estimated memory of a model from its config: its weights as held in memory in a precision, and
// the activations of one worker at a batch size.
struct MemoryEstimate {
  uint64_t weight_bytes = 0;
  uint64_t activation_bytes_per_worker = 0;
};

// Estimates a model's memory from its config: under kInt8 the encoder's products count one byte
// per weight (plus per-channel scales and sums), everything else four.
MemoryEstimate estimate_memory(const VisionConfig& config, int batch_size,
                               Precision precision = Precision::kF32);
// The same for every tower a model directory has (batch_size texts for the text tower).
MemoryEstimate estimate_memory(const ModelConfig& config, int batch_size,
                               Precision precision = Precision::kF32);

// Known models: key, embedding dimension and estimate, computed from their published configs.
struct KnownModel {
  std::string key;
  int dimension = 0;
  MemoryEstimate estimate;
};
std::vector<KnownModel> known_models(int batch_size = 8);

// The distinct embedding dimensions of the known models (e.g. 512, 768).
std::vector<int> supported_dimensions();

}  // namespace clipembed
