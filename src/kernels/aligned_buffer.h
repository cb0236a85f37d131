// Internal: a heap array aligned for vector loads (64 bytes, a cache line), for packed weights.
#pragma once

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
    constexpr size_t kAlign = 64;
    const size_t bytes = (count * sizeof(T) + kAlign - 1) / kAlign * kAlign;
    data_.reset(static_cast<T*>(std::aligned_alloc(kAlign, bytes)));
    if (data_ == nullptr) throw std::bad_alloc();
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
