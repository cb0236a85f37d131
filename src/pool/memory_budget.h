// Internal: the pool's memory budget, shared by every model's cold start and worker scaling. The
// estimates the budget is checked against (pool.h's estimate_memory, known_models) are defined
// beside it, in memory_budget.cc.
#pragma once

#include <cstdint>
#include <mutex>

namespace clipembed::pool {

// Physical memory of the machine (sysconf), in bytes.
uint64_t physical_memory_bytes();

// Thread-safe accounting of reserved bytes against a fixed total.
class MemoryBudget {
 public:
  explicit MemoryBudget(uint64_t total) : total_(total) {}
  bool try_reserve(uint64_t bytes);
  void release(uint64_t bytes);
  uint64_t headroom() const;
  uint64_t total() const { return total_; }

 private:
  const uint64_t total_;
  mutable std::mutex mutex_;
  uint64_t used_ = 0;
};

}  // namespace clipembed::pool
