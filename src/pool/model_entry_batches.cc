// ModelEntry's path from an admitted request to its vector: preprocessing on the runtime, the
// batching of ready requests (images and texts apart), and running a batch on a worker's
// workspace. Admission, loading and upkeep are in model_entry.cc.
#include <algorithm>
#include <new>
#include <optional>

#include "clipembed/runtime.h"
#include "pool/model_entry.h"

namespace clipembed::pool {

void ModelEntry::start_preprocess(const RequestPtr& request,
                                  std::shared_ptr<const ClipModel> model) {
  shared_runtime().submit([self = shared_from_this(), request, model = std::move(model)] {
    {
      // Requests cancelled or expired while queued cost no decoding.
      std::lock_guard<std::mutex> lock(self->mutex_);
      if (self->admitted_.count(request) == 0) return;
    }
    std::optional<Error> error;
    try {
      if (request->kind == Request::kText) {
        request->ids = model->tokenize(request->text);
      } else {
        request->crop = request->produce(*model);
      }
    } catch (const Error& e) {
      error = e;  // Bad input: never counted as an engine fault.
    } catch (const std::bad_alloc&) {
      // The process is short of memory now (a limit below what this input needs): this input
      // fails, and the others go on.
      error = Error(ErrorCode::kMemoryExhausted,
                    "not enough memory to decode or tokenize this input now; retry later");
    } catch (const std::exception& e) {
      error = Error(ErrorCode::kInternal, e.what());
    }
    std::unique_lock<std::mutex> lock(self->mutex_);
    if (self->admitted_.count(request) == 0) return;  // Cancelled or expired meanwhile.
    if (error) {
      self->take_locked(request);
      lock.unlock();
      request->finish(nullptr, &*error);
      self->admit_waiting();
      return;
    }
    const Clock::time_point now = Clock::now();
    request->ready_at = now;
    self->last_progress_ = now;
    self->ready_[request->kind].push_back(request);
    self->dispatch_locked(now, false);
  });
}

void ModelEntry::dispatch_locked(Clock::time_point now, bool flush) {
  const size_t max_batch = static_cast<size_t>(std::max(1, options_.max_batch_size));
  while (true) {
    // Requests that expired or were cancelled while queued are skipped here.
    for (auto& queue : ready_) {
      while (!queue.empty() && admitted_.count(queue.front()) == 0) queue.pop_front();
    }
    if (state_ != State::kReady) return;
    // A full queue goes first; else the one whose oldest request has waited longest.
    std::deque<RequestPtr>* chosen = nullptr;
    for (auto& queue : ready_) {
      if (queue.empty()) continue;
      if (queue.size() >= max_batch) {
        chosen = &queue;
        break;
      }
      if (chosen == nullptr || queue.front()->ready_at < chosen->front()->ready_at) {
        chosen = &queue;
      }
    }
    if (chosen == nullptr) return;
    std::deque<RequestPtr>& ready = *chosen;
    const bool full = ready.size() >= max_batch;
    const Clock::time_point flush_at = ready.front()->ready_at + options_.max_batch_wait;
    if (!full && !flush && now < flush_at) {
      wake_at_(flush_at);  // The timer flushes this partial batch if nothing fills it first.
      return;
    }
    if (busy_ >= workers_) {
      if (workers_ >= options_.max_workers_per_model || !budget_.try_reserve(worker_bytes_)) return;
      ++workers_;  // Every worker is busy and the budget allows one more.
    }
    std::vector<RequestPtr> batch;
    while (!ready.empty() && batch.size() < max_batch) {
      if (admitted_.count(ready.front()) != 0) {
        batch.push_back(ready.front());
        ready.front()->batch_started_at = now;
        counters_.queue_wait.add(
            std::chrono::duration<double>(now - ready.front()->admitted_at).count());
      }
      ready.pop_front();
    }
    ++busy_;
    std::shared_ptr<Workspace> workspace;
    if (!idle_workspaces_.empty()) {
      workspace = std::move(idle_workspaces_.back());
      idle_workspaces_.pop_back();
    } else {
      workspace = std::make_shared<Workspace>();
    }
    ++counters_.batches;
    if (counters_.batch_sizes.size() <= batch.size())
      counters_.batch_sizes.resize(batch.size() + 1);
    ++counters_.batch_sizes[batch.size()];
    shared_runtime().submit(
        [self = shared_from_this(), batch = std::move(batch), model = model_,
         workspace = std::move(workspace)] { self->run_batch(batch, model, workspace); });
  }
}

void ModelEntry::run_batch(std::vector<RequestPtr> batch,
                           const std::shared_ptr<const ClipModel>& model,
                           std::shared_ptr<Workspace> workspace) {
  const auto dim = static_cast<size_t>(model->dimension());
  std::vector<float> out(dim * batch.size());
  std::optional<Error> error;
  const bool texts = batch.front()->kind == Request::kText;
  const Clock::time_point started = Clock::now();
  try {
    if (texts) {
      std::vector<std::vector<int32_t>> ids(batch.size());
      for (size_t i = 0; i < batch.size(); ++i) ids[i] = std::move(batch[i]->ids);
      model->embed_token_ids(ids, out.data(), {.normalize = false}, workspace.get());
    } else {
      std::vector<const Image*> crops(batch.size());
      for (size_t i = 0; i < batch.size(); ++i) crops[i] = &batch[i]->crop;
      model->embed_crops(crops, out.data(), {.normalize = false}, workspace.get());
    }
  } catch (const Error& e) {
    error = e;
  } catch (const std::bad_alloc&) {
    error = Error(ErrorCode::kMemoryExhausted,
                  "not enough memory for this batch's forward pass now; retry later");
  } catch (const std::exception& e) {
    error = Error(ErrorCode::kInternal, e.what());
  }
  std::vector<std::pair<RequestPtr, size_t>> mine;
  std::unique_lock<std::mutex> lock(mutex_);
  const Clock::time_point now = Clock::now();
  const double forward_seconds = std::chrono::duration<double>(now - started).count();
  counters_.forward.add(forward_seconds);
  last_progress_ = now;
  --busy_;
  if (state_ == State::kReady && busy_ + static_cast<int>(idle_workspaces_.size()) < workers_) {
    idle_workspaces_.push_back(std::move(workspace));
  }
  last_used_ = now;
  (texts ? counters_.texts : counters_.images) += batch.size();
  // Memory short for a moment is no engine fault: it must not open the breaker.
  if (error && error->code() != ErrorCode::kMemoryExhausted) record_fault_locked(now);
  for (size_t i = 0; i < batch.size(); ++i) {
    if (take_locked(batch[i])) mine.emplace_back(batch[i], i);
  }
  dispatch_locked(now, false);
  lock.unlock();
  for (auto& [request, i] : mine) {
    request->compute_seconds = forward_seconds;
    if (error) {
      request->finish(nullptr, &*error);
    } else {
      Embedding e(out.begin() + static_cast<std::ptrdiff_t>(i * dim),
                  out.begin() + static_cast<std::ptrdiff_t>((i + 1) * dim));
      if (request->normalize) normalize_embedding(e);
      request->finish(&e, nullptr);
    }
  }
  admit_waiting();
}

}  // namespace clipembed::pool
