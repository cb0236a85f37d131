// Internal: a validated, memory-mapped safetensors file.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "io/file.h"

namespace clipembed::model {

enum class DType { kF64, kF32, kF16, kBF16, kI64, kI32, kI16, kI8, kU8, kBool, kOther8 };

struct TensorInfo {
  DType dtype = DType::kF32;
  std::string dtype_name;
  std::vector<int64_t> shape;
  std::span<const uint8_t> data;  // Points into the mapping.
  int64_t numel() const;
};

class SafetensorsFile {
 public:
  // Maps and validates the file: header length, JSON, every entry's dtype, shape and offsets
  // (inside the data section, sized as dtype x shape, no two overlapping). Throws
  // Error(kModelInvalid) naming the file, or kIo when it cannot be read.
  explicit SafetensorsFile(const std::string& path);
  // Validates an in-memory image of a file (used by tests and fuzzing). `bytes` must outlive this.
  SafetensorsFile(std::span<const uint8_t> bytes, const std::string& name);

  const TensorInfo* find(const std::string& name) const;
  const std::map<std::string, TensorInfo>& tensors() const { return tensors_; }
  const std::string& path() const { return path_; }
  // See io::MappedFile::release(); a no-op for in-memory images.
  void release(const void* data, size_t bytes) const;

 private:
  void parse(std::span<const uint8_t> bytes);

  std::string path_;
  std::unique_ptr<io::MappedFile> mapping_;
  std::map<std::string, TensorInfo> tensors_;
};

// Bytes per element, or 0 for an unknown dtype.
int dtype_size(DType dtype);

}  // namespace clipembed::model
