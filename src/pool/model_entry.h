// Internal: one model of the pool: its cold start, request queue, batching and workers.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_set>

#include "clipembed/embedder.h"
#include "clipembed/input.h"
#include "clipembed/model.h"
#include "clipembed/pool.h"
#include "pool/memory_budget.h"

namespace clipembed::pool {

using Clock = std::chrono::steady_clock;

struct WaitingGroup;

// One image or text input. For an image, `produce` makes the crop (reading a file, decoding
// base64 or downloaded bytes, resizing) on a runtime thread; a text is tokenized there. `finish`
// is called exactly once with the embedding or the error.
struct Request {
  enum Kind { kImage = 0, kText = 1 };
  Kind kind = kImage;
  std::function<Image(const ClipModel&)> produce;  // Images (set by the time it is started).
  std::string url;  // An image input to download first (produce is set once it has arrived).
  // The URL download of an image input, while it runs (0 otherwise): aborted when the request
  // ends another way (cancelled, past its deadline, shut down).
  std::atomic<uint64_t> download = 0;
  std::string text;  // Texts.
  std::function<void(Embedding*, const Error*)> finish;
  bool normalize = false;
  Clock::time_point admitted_at;
  Clock::time_point deadline;
  Clock::time_point ready_at;          // When it joined its batch queue.
  Clock::time_point batch_started_at;  // When its forward pass began (unset before).
  double compute_seconds = 0;          // That forward pass, once it ends.
  Image crop;                          // Images, once preprocessed.
  std::vector<int32_t> ids;            // Texts, once tokenized.
  // The group it waits with for admission, while it does (guarded by its entry's mutex).
  std::weak_ptr<WaitingGroup> waiting;
};
using RequestPtr = std::shared_ptr<Request>;

// What admission does with each request of a group once the group is admitted.
using StartRequest = std::function<void(const RequestPtr&)>;

// A group waiting for room in its entry's queue.
struct WaitingGroup {
  std::vector<RequestPtr> requests;
  StartRequest start;
  Clock::time_point deadline;
};

class ModelEntry : public std::enable_shared_from_this<ModelEntry> {
 public:
  // `reference` is a model directory or a repo id in the hub cache (locate_model()).
  // `wake_at` asks the pool's timer to call maintain() at a given time (to flush a partial batch).
  // `owner` keeps alive what `options`, `budget` and `wake_at` refer to (the pool's state): an
  // entry can outlive its ModelPool, held by an embedder or by a URL download still in flight.
  ModelEntry(std::string key, std::string reference, const PoolOptions& options,
             MemoryBudget& budget, std::function<void(Clock::time_point)> wake_at,
             std::shared_ptr<const void> owner);

  // Admits a group of requests (one caller's inputs) whole, counting against the queue's bound
  // from then on (a URL input is admitted before its download), and calls `start` for each
  // request of it: at once when the queue has room for the whole group and no group waits
  // before it, else later, on the thread that made room, in the order groups came. A group
  // larger than the queue is refused (kRequestTooLarge), as is one that finds the waiting line
  // full (kOverloaded); a waiting group past its deadline ends with kDeadlineExceeded. Refused
  // requests are finished with the error (kCancelled, kUnavailable as well).
  void admit(std::vector<RequestPtr> group, StartRequest start);
  // Starts an admitted request: decoding (its `produce`) or tokenizing, then batching.
  void start(const RequestPtr& request);
  // Finishes a request with kCancelled now, wherever it is (waiting for admission, queued, or in
  // a batch already running, whose result for it is dropped). Returns false if it had finished.
  bool cancel(const RequestPtr& request, const std::string& why);
  // Finishes an admitted request with `error` (its download failed). False if it had finished.
  bool fail(const RequestPtr& request, const Error& error);
  bool admitted(const RequestPtr& request) const;

  // The model's configs, read once (the first call locates the model and reads them; a failure is
  // thrown and tried again by the next call). Reads no weights.
  ModelConfig config();

  // Loads the model if needed and returns it; throws the load error. Helps the runtime while
  // waiting when called from a runtime thread.
  std::shared_ptr<const ClipModel> loaded_model();

  // Timer work: flush partial batches that waited long enough, expire deadlines, retire an idle
  // worker, unload an idle model.
  void maintain(Clock::time_point now);

  // Cancels every admitted request not yet running and waits for running batches.
  void shutdown();

  ModelStats stats() const;

 private:
  enum class State { kUnloaded, kLoading, kReady };

  void start_load_locked();
  void load();
  void start_preprocess(const RequestPtr& request, std::shared_ptr<const ClipModel> model);
  void dispatch_locked(Clock::time_point now, bool flush);
  void run_batch(std::vector<RequestPtr> batch, const std::shared_ptr<const ClipModel>& model,
                 std::shared_ptr<Workspace> workspace);
  // Removes the request from the admitted set; returns false if it was already finished.
  bool take_locked(const RequestPtr& request);
  // Removes a request from its waiting group (and the group from the line once empty); false
  // if it was not waiting.
  bool unwait_locked(const RequestPtr& request);
  // Admits the waiting groups at the head of the line that now fit, and starts them. Called
  // after anything left the queue.
  void admit_waiting();
  void record_fault_locked(Clock::time_point now);

  const std::shared_ptr<const void> owner_;  // Declared first: outlives the references below.
  const std::string key_, reference_;
  const PoolOptions& options_;
  MemoryBudget& budget_;
  const std::function<void(Clock::time_point)> wake_at_;

  mutable std::mutex mutex_;
  State state_ = State::kUnloaded;
  bool shut_down_ = false;
  std::shared_ptr<const ClipModel> model_;
  std::optional<ModelConfig> config_;  // Once read.
  std::optional<Error> last_load_error_;
  uint64_t load_generation_ = 0;
  uint64_t weight_bytes_ = 0, worker_bytes_ = 0;
  std::unordered_set<RequestPtr> admitted_;            // Admitted and not yet finished.
  std::deque<std::shared_ptr<WaitingGroup>> waiting_;  // Groups waiting for room, in order.
  size_t waiting_inputs_ = 0;                          // Their requests.
  std::deque<RequestPtr> waiting_for_load_;
  std::deque<RequestPtr> ready_[2];  // Preprocessed, by kind: an image batch and a text batch are
                                     // separate forward passes.
  int workers_ = 0, busy_ = 0;
  // The activations of the workers not running a batch: a worker keeps its buffers between
  // batches instead of allocating them again (at most workers_ in all).
  std::vector<std::shared_ptr<Workspace>> idle_workspaces_;
  Clock::time_point last_used_ = Clock::now(), last_retired_ = Clock::now();
  Clock::time_point last_progress_ = Clock::now();  // A batch finished or an input was decoded.
  int consecutive_faults_ = 0;
  Clock::time_point breaker_open_until_{};
  ModelStats counters_;
};

}  // namespace clipembed::pool
