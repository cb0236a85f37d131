#include "pool/model_entry.h"

#include <algorithm>

#include "clipembed/hub.h"
#include "clipembed/runtime.h"
#include "io/url_fetcher.h"

namespace clipembed::pool {
namespace {

std::string mib(uint64_t bytes) { return std::to_string((bytes + (1 << 20) - 1) >> 20) + " MiB"; }

// Ends a request that will not be embedded; a download still running for it stops.
void end_request(const RequestPtr& r, ErrorCode code, const std::string& message) {
  io::UrlFetcher::instance().cancel(r->download.exchange(0));
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

void ModelEntry::submit(const RequestPtr& request) {
  if (admit(request)) start(request);
}

bool ModelEntry::admit(const RequestPtr& request) {
  const Clock::time_point now = Clock::now();
  request->admitted_at = now;
  request->deadline = now + options_.request_deadline;
  std::unique_lock<std::mutex> lock(mutex_);
  if (shut_down_) {
    lock.unlock();
    end_request(request, ErrorCode::kCancelled, "the model pool is shut down");
    return false;
  }
  if (now < breaker_open_until_) {
    lock.unlock();
    end_request(request, ErrorCode::kUnavailable,
                key_ + " is unavailable after repeated engine faults; retry later");
    return false;
  }
  if (admitted_.size() >= options_.max_queued_requests) {
    const std::string message =
        key_ + " has " + std::to_string(admitted_.size()) + " requests queued; retry later";
    lock.unlock();
    end_request(request, ErrorCode::kOverloaded, message);
    return false;
  }
  if (admitted_.empty()) last_progress_ = now;  // Waiting starts now, not at the last batch.
  admitted_.insert(request);
  return true;
}

bool ModelEntry::fail(const RequestPtr& request, const Error& error) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!take_locked(request)) return false;
  }
  request->finish(nullptr, &error);
  return true;
}

bool ModelEntry::admitted(const RequestPtr& request) const {
  std::lock_guard<std::mutex> lock(mutex_);
  return admitted_.count(request) != 0;
}

bool ModelEntry::cancel(const RequestPtr& request, const std::string& why) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!take_locked(request)) return false;
  }
  end_request(request, ErrorCode::kCancelled, why);
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
}

void ModelEntry::shutdown() {
  std::vector<RequestPtr> cancelled;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    shut_down_ = true;
    cancelled.assign(admitted_.begin(), admitted_.end());
    admitted_.clear();
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
  if (!admitted_.empty()) {
    s.stalled_seconds = std::chrono::duration<double>(Clock::now() - last_progress_).count();
  }
  return s;
}

}  // namespace clipembed::pool
