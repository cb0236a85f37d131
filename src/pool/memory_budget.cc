#include "pool/memory_budget.h"

#include <unistd.h>

namespace clipembed::pool {

uint64_t physical_memory_bytes() {
  const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
  return pages > 0 && page > 0 ? static_cast<uint64_t>(pages) * static_cast<uint64_t>(page) : 0;
}

bool MemoryBudget::try_reserve(uint64_t bytes) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (bytes > total_ - used_) return false;
  used_ += bytes;
  return true;
}

void MemoryBudget::release(uint64_t bytes) {
  std::lock_guard<std::mutex> lock(mutex_);
  used_ = bytes > used_ ? 0 : used_ - bytes;
}

uint64_t MemoryBudget::headroom() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return total_ - used_;
}

}  // namespace clipembed::pool
