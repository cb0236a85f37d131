#include "pool/model_entry.h"

#include <algorithm>

#include "clipembed/hub.h"
#include "clipembed/runtime.h"
#include "image/image_loader.h"

namespace clipembed::pool {
namespace {

std::string mib(uint64_t bytes) { return std::to_string((bytes + (1 << 20) - 1) >> 20) + " MiB"; }

// Ends a request that will not be embedded; a download still running for it stops.
void end_request(const RequestPtr& r, ErrorCode code, const std::string& message) {
  image::cancel_fetch(r->download.exchange(0));
  const Error error(code, message);
  r->finish(nullptr, &error);
}

}  // namespace

ModelEntry::ModelEntry(std::string key, std::string reference, const PoolOptions& options,
                       MemoryBudget& budget, std::function<void(Clock::time_point)> wake_at,
                       std::shared_ptr<const void> owner)
    : owner_(std::move(owner)),
      key_(std::move(key)),
      reference_(std::move(reference)),
      options_(options),
      budget_(budget),
      wake_at_(std::move(wake_at)) {}

bool ModelEntry::take_locked(const RequestPtr& request) { return admitted_.erase(request) > 0; }

void ModelEntry::record_fault_locked(Clock::time_point now) {
  if (++consecutive_faults_ >= options_.breaker_threshold) {
    breaker_open_until_ = now + options_.breaker_cooldown;
    consecutive_faults_ = 0;
  }
}

void ModelEntry::admit(std::vector<RequestPtr> group, StartRequest start) {
  const Clock::time_point now = Clock::now();
  for (const RequestPtr& r : group) {
    r->admitted_at = now;
    r->deadline = now + options_.request_deadline;
  }
  auto refuse = [&](ErrorCode code, const std::string& message) {
    for (const RequestPtr& r : group) end_request(r, code, message);
  };
  const size_t limit = options_.max_queued_inputs;
  std::unique_lock<std::mutex> lock(mutex_);
  if (shut_down_) {
    lock.unlock();
    return refuse(ErrorCode::kCancelled, "the model pool is shut down");
  }
  if (now < breaker_open_until_) {
    lock.unlock();
    return refuse(ErrorCode::kUnavailable,
                  key_ + " is unavailable after repeated engine faults; retry later");
  }
  if (group.size() > limit) {
    lock.unlock();
    return refuse(ErrorCode::kRequestTooLarge,
                  "a request of " + std::to_string(group.size()) + " inputs is larger than " +
                      key_ + "'s whole queue of " + std::to_string(limit) +
                      " inputs; split it (or raise the queue's bound)");
  }
  if (waiting_.empty() && admitted_.size() + group.size() <= limit) {
    if (admitted_.empty()) last_progress_ = now;  // Waiting starts now, not at the last batch.
    admitted_.insert(group.begin(), group.end());
    lock.unlock();
    for (const RequestPtr& r : group) start(r);
    return;
  }
  // The line of waiting groups holds at most another queue's worth of inputs: a caller beyond it
  // is told to come back rather than held.
  if (waiting_inputs_ + group.size() > limit) {
    const std::string message = key_ + " has " + std::to_string(admitted_.size()) +
                                " inputs queued and " + std::to_string(waiting_inputs_) +
                                " waiting; retry later";
    lock.unlock();
    return refuse(ErrorCode::kOverloaded, message);
  }
  auto waiting = std::make_shared<WaitingGroup>();
  waiting->deadline = now + options_.request_deadline;
  waiting->start = std::move(start);
  for (const RequestPtr& r : group) r->waiting = waiting;
  waiting_inputs_ += group.size();
  waiting->requests = std::move(group);
  waiting_.push_back(std::move(waiting));
}

void ModelEntry::admit_waiting() {
  std::vector<std::shared_ptr<WaitingGroup>> admitted;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    while (!waiting_.empty() && !shut_down_ &&
           admitted_.size() + waiting_.front()->requests.size() <= options_.max_queued_inputs) {
      std::shared_ptr<WaitingGroup> group = std::move(waiting_.front());
      waiting_.pop_front();
      waiting_inputs_ -= group->requests.size();
      if (admitted_.empty()) last_progress_ = Clock::now();
      for (const RequestPtr& r : group->requests) {
        r->waiting.reset();
        admitted_.insert(r);
      }
      admitted.push_back(std::move(group));
    }
  }
  for (const auto& group : admitted) {
    for (const RequestPtr& r : group->requests) group->start(r);
  }
}

bool ModelEntry::unwait_locked(const RequestPtr& request) {
  const std::shared_ptr<WaitingGroup> group = request->waiting.lock();
  if (group == nullptr) return false;
  request->waiting.reset();
  auto& requests = group->requests;
  requests.erase(std::find(requests.begin(), requests.end(), request));
  --waiting_inputs_;
  if (requests.empty()) waiting_.erase(std::find(waiting_.begin(), waiting_.end(), group));
  return true;
}

bool ModelEntry::fail(const RequestPtr& request, const Error& error) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!take_locked(request)) return false;
  }
  request->finish(nullptr, &error);
  admit_waiting();
  return true;
}

bool ModelEntry::admitted(const RequestPtr& request) const {
  std::lock_guard<std::mutex> lock(mutex_);
  return admitted_.count(request) != 0;
}

bool ModelEntry::cancel(const RequestPtr& request, const std::string& why) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!take_locked(request) && !unwait_locked(request)) return false;
  }
  end_request(request, ErrorCode::kCancelled, why);
  admit_waiting();
  return true;
}

void ModelEntry::start(const RequestPtr& request) {
  std::unique_lock<std::mutex> lock(mutex_);
  if (admitted_.count(request) == 0) return;  // Cancelled or expired while downloading.
  if (state_ == State::kReady) {
    auto model = model_;
    lock.unlock();
    start_preprocess(request, std::move(model));
    return;
  }
  waiting_for_load_.push_back(request);
  if (state_ == State::kUnloaded) start_load_locked();
}

ModelConfig ModelEntry::config() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (config_) return *config_;
  }
  // Read outside the lock (it touches the file system); two first callers may both read it.
  ModelConfig config = ModelConfig::read(locate_model(reference_));
  std::lock_guard<std::mutex> lock(mutex_);
  if (!config_) config_ = std::move(config);
  return *config_;
}

void ModelEntry::start_load_locked() {
  state_ = State::kLoading;
  ++load_generation_;
  shared_runtime().submit([self = shared_from_this()] { self->load(); });
}

void ModelEntry::load() {
  const Clock::time_point started = Clock::now();
  std::shared_ptr<const ClipModel> model;
  std::optional<Error> error;
  uint64_t weights = 0, per_worker = 0;
  int workers = 0;
  try {
    // Size the cold start from the config before touching the weights.
    const ModelConfig config = this->config();
    const MemoryEstimate estimate =
        estimate_memory(config, options_.max_batch_size, options_.precision);
    weights = estimate.weight_bytes;
    per_worker = estimate.activation_bytes_per_worker;
    if (!budget_.try_reserve(weights + per_worker)) {
      throw Error(ErrorCode::kMemoryExhausted,
                  "loading " + key_ + " needs " + mib(weights + per_worker) + " (weights " +
                      mib(weights) + " + one worker " + mib(per_worker) + " at batch " +
                      std::to_string(options_.max_batch_size) + ") but the budget has " +
                      mib(budget_.headroom()) + " free of " + mib(budget_.total()));
    }
    workers = 1;
    if (options_.max_workers_per_model >= 2 && budget_.try_reserve(per_worker)) workers = 2;
    try {
      model = ClipModel::load(
          config, LoadOptions{.input = options_.input, .precision = options_.precision});
    } catch (...) {
      budget_.release(weights + per_worker * workers);
      throw;
    }
  } catch (const Error& e) {
    error = e;
  } catch (const std::exception& e) {
    error = Error(ErrorCode::kInternal, std::string("loading ") + key_ + ": " + e.what());
  }

  std::vector<RequestPtr> to_start, to_fail;
  std::unique_lock<std::mutex> lock(mutex_);
  const Clock::time_point now = Clock::now();
  if (!error && shut_down_) {
    budget_.release(weights + per_worker * workers);
    error = Error(ErrorCode::kCancelled, "the model pool is shut down");
  }
  for (const RequestPtr& r : waiting_for_load_) {
    if (error) {
      if (take_locked(r)) to_fail.push_back(r);
    } else if (admitted_.count(r) != 0) {
      to_start.push_back(r);
    }
  }
  waiting_for_load_.clear();
  if (error) {
    // The next request retries the load.
    state_ = State::kUnloaded;
    last_load_error_ = error;
    if (error->code() != ErrorCode::kCancelled) record_fault_locked(now);
  } else {
    model_ = model;
    state_ = State::kReady;
    weight_bytes_ = weights;
    worker_bytes_ = per_worker;
    workers_ = workers;
    last_used_ = last_retired_ = now;
    consecutive_faults_ = 0;
    ++counters_.loads;
    counters_.last_load_seconds = std::chrono::duration<double>(now - started).count();
  }
  lock.unlock();
  for (const RequestPtr& r : to_fail) r->finish(nullptr, &*error);
  for (const RequestPtr& r : to_start) start_preprocess(r, model);
  if (!to_fail.empty()) admit_waiting();
}

std::shared_ptr<const ClipModel> ModelEntry::loaded_model() {
  std::unique_lock<std::mutex> lock(mutex_);
  if (state_ == State::kReady) return model_;
  if (shut_down_) throw Error(ErrorCode::kCancelled, "the model pool is shut down");
  if (state_ == State::kUnloaded) start_load_locked();
  const uint64_t generation = load_generation_;
  lock.unlock();
  shared_runtime().help_until([&] {
    std::lock_guard<std::mutex> check(mutex_);
    return state_ != State::kLoading || load_generation_ != generation;
  });
  lock.lock();
  if (state_ == State::kReady) return model_;
  if (last_load_error_) throw *last_load_error_;
  throw Error(ErrorCode::kInternal, "loading " + key_ + " did not complete");
}

void ModelEntry::maintain(Clock::time_point now) {
  std::vector<RequestPtr> expired;
  std::unique_lock<std::mutex> lock(mutex_);
  for (auto it = admitted_.begin(); it != admitted_.end();) {
    if ((*it)->deadline <= now) {
      expired.push_back(*it);
      it = admitted_.erase(it);
    } else {
      ++it;
    }
  }
  // Groups still waiting for room when their deadline passes (groups wait in arrival order, and
  // all share one deadline length, so the expired ones are at the head of the line).
  while (!waiting_.empty() && waiting_.front()->deadline <= now) {
    for (const RequestPtr& r : waiting_.front()->requests) {
      r->waiting.reset();
      expired.push_back(r);
    }
    waiting_inputs_ -= waiting_.front()->requests.size();
    waiting_.pop_front();
  }
  dispatch_locked(now, false);
  const bool idle = state_ == State::kReady && busy_ == 0 && admitted_.empty();
  if (idle && workers_ > 1 && now - last_used_ >= options_.idle_worker_timeout &&
      now - last_retired_ >= options_.idle_worker_timeout) {
    --workers_;  // One at a time.
    if (!idle_workspaces_.empty()) idle_workspaces_.pop_back();
    budget_.release(worker_bytes_);
    last_retired_ = now;
  }
  if (idle && now - last_used_ >= options_.idle_model_timeout) {
    model_.reset();  // The next request cold-starts it again.
    idle_workspaces_.clear();
    state_ = State::kUnloaded;
    budget_.release(weight_bytes_ + worker_bytes_ * static_cast<uint64_t>(workers_));
    workers_ = 0;
  }
  lock.unlock();
  for (const RequestPtr& r : expired) {
    end_request(r, ErrorCode::kDeadlineExceeded,
                "request to " + key_ + " exceeded its deadline of " +
                    std::to_string(options_.request_deadline.count()) + " ms");
  }
  if (!expired.empty()) admit_waiting();
}

void ModelEntry::shutdown() {
  std::vector<RequestPtr> cancelled;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    shut_down_ = true;
    cancelled.assign(admitted_.begin(), admitted_.end());
    admitted_.clear();
    for (const auto& group : waiting_) {
      for (const RequestPtr& r : group->requests) {
        r->waiting.reset();
        cancelled.push_back(r);
      }
    }
    waiting_.clear();
    waiting_inputs_ = 0;
    waiting_for_load_.clear();
    for (auto& queue : ready_) queue.clear();
  }
  for (const RequestPtr& r : cancelled) {
    end_request(r, ErrorCode::kCancelled, "the model pool shut down before the request ran");
  }
  // Running batches and loads finish on the runtime; help it if we are one of its threads.
  shared_runtime().help_until([&] {
    std::lock_guard<std::mutex> lock(mutex_);
    return busy_ == 0 && state_ != State::kLoading;
  });
  std::lock_guard<std::mutex> lock(mutex_);
  if (state_ == State::kReady) {
    budget_.release(weight_bytes_ + worker_bytes_ * static_cast<uint64_t>(workers_));
  }
  model_.reset();
  idle_workspaces_.clear();
  state_ = State::kUnloaded;
  workers_ = 0;
}

ModelStats ModelEntry::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  ModelStats s = counters_;
  s.loaded = state_ == State::kReady;
  s.workers = workers_;
  s.busy_workers = busy_;
  s.queued = admitted_.size();
  s.waiting = waiting_inputs_;
  if (!admitted_.empty()) {
    s.stalled_seconds = std::chrono::duration<double>(Clock::now() - last_progress_).count();
  }
  return s;
}

}  // namespace clipembed::pool
