// Internal: a heap array aligned for vector loads (64 bytes, a cache line), for packed weights.
#pragma once

#include <sys/mman.h>

#include <cstddef>
#include <cstdlib>
#include <memory>
#include <new>

namespace clipembed::kernels {

template <typename T>
class AlignedBuffer {
 public:
  AlignedBuffer() = default;
  explicit AlignedBuffer(size_t count) : count_(count) {
    if (count == 0) return;
    // Large buffers (a layer's packed weights) sit on 2 MiB boundaries and ask for huge pages:
    // with 4 KiB pages, first touching ViT-B/32's 340 MB of packed float32 weights took about a
    // third of a cold start in page faults. Where the kernel declines, nothing changes.
    // Only whole huge pages are advised, so the tail costs no more memory than before.
    constexpr size_t kHugePage = size_t{2} << 20;
    const size_t bytes = count * sizeof(T);
    const size_t align = bytes >= 2 * kHugePage ? kHugePage : 64;
    void* memory = nullptr;
    if (::posix_memalign(&memory, align, bytes) != 0) throw std::bad_alloc();
    data_.reset(static_cast<T*>(memory));
#ifdef MADV_HUGEPAGE
    if (align == kHugePage) ::madvise(memory, bytes / kHugePage * kHugePage, MADV_HUGEPAGE);
#endif
  }

  T* data() { return data_.get(); }
  const T* data() const { return data_.get(); }
  size_t size() const { return count_; }

 private:
  struct Free {
    void operator()(T* p) const { std::free(p); }
  };
  std::unique_ptr<T[], Free> data_;
  size_t count_ = 0;
};

}  // namespace clipembed::kernels
