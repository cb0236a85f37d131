#include "pool/fanout.h"

#include <algorithm>
#include <mutex>

namespace clipembed::pool {
namespace {

class Group : public std::enable_shared_from_this<Group> {
 public:
  Group(size_t count, FailurePolicy policy, std::shared_ptr<Cancellation> cancellation,
        GroupDone done)
      : remaining_(count),
        policy_(policy),
        cancellation_(std::move(cancellation)),
        done_(std::move(done)) {
    outcome_.results.resize(count);
  }

  void arrive(size_t i, Embedding* e, const Error* error, const EmbedTiming& timing) {
    std::unique_lock<std::mutex> lock(mutex_);
    if (finished_) return;
    outcome_.timing.queue_seconds = std::max(outcome_.timing.queue_seconds, timing.queue_seconds);
    outcome_.timing.compute_seconds =
        std::max(outcome_.timing.compute_seconds, timing.compute_seconds);
    if (error != nullptr) {
      outcome_.results[i].error = *error;
      if (policy_ == FailurePolicy::kFailFirst) {
        finished_ = true;
        outcome_.failed = i;
        lock.unlock();
        cancellation_->cancel();
        done_(outcome_);
        return;
      }
    } else {
      outcome_.results[i].embedding = std::move(*e);
    }
    if (--remaining_ > 0) return;
    finished_ = true;
    lock.unlock();
    done_(outcome_);
  }

 private:
  std::mutex mutex_;
  GroupOutcome outcome_;
  size_t remaining_;
  bool finished_ = false;
  const FailurePolicy policy_;
  const std::shared_ptr<Cancellation> cancellation_;
  const GroupDone done_;
};

}  // namespace

void submit_group(Embedder& embedder, std::vector<EmbedInput> inputs, const EmbedOptions& options,
                  FailurePolicy policy, std::shared_ptr<Cancellation> cancellation,
                  GroupDone done) {
  if (inputs.empty()) {
    GroupOutcome empty;
    done(empty);
    return;
  }
  if (cancellation == nullptr && policy == FailurePolicy::kFailFirst) {
    cancellation = std::make_shared<Cancellation>();
  }
  auto group = std::make_shared<Group>(inputs.size(), policy, cancellation, std::move(done));
  embedder.submit(
      std::move(inputs), options,
      [group](size_t i, Embedding* e, const Error* error, const EmbedTiming& timing) {
        group->arrive(i, e, error, timing);
      },
      std::move(cancellation));
}

}  // namespace clipembed::pool
