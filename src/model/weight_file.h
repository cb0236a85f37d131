// Internal: the float32 views of a checkpoint's tensors, shared by the towers that read it.
#pragma once

#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "model/open_clip_config.h"
#include "model/safetensors.h"

namespace clipembed::model {

// F32 tensors are read in place from the memory map; F16/BF16 ones, and F32 ones that are not
// 4-byte aligned, are converted once into buffers owned here. Binding happens at load, on one
// thread; afterwards the views are immutable and may be read from any thread.
class WeightFile {
 public:
  // `aliases` (open_clip checkpoints) says where each transformers name lies in the file; without
  // them names are looked up as they are.
  explicit WeightFile(std::unique_ptr<SafetensorsFile> file,
                      std::map<std::string, TensorAlias> aliases = {});

  // The tensor `name` as float32, checked against `shape`. Throws Error(kModelInvalid) naming the
  // file and the tensor when it is missing or has another shape or an unsupported dtype.
  const float* bind(const std::string& name, const std::vector<int64_t>& shape);
  bool has(const std::string& name) const { return find(name) != nullptr; }
  // A scalar stored with shape [] or [1] (CLIP and SigLIP write logit_scale each their way), or
  // `fallback` when absent.
  float scalar(const std::string& name, float fallback) {
    const TensorInfo* t = find(name);
    if (t == nullptr) return fallback;
    return *bind(name, t->shape.empty() ? std::vector<int64_t>{} : std::vector<int64_t>{1});
  }
  // The dtype a tensor is stored in ("F32", "F16", "BF16", ...), or "" when it is missing.
  std::string stored_dtype(const std::string& name) const;

  // Drops `count` floats at `data`, a view bind() returned, from memory once nothing reads them
  // (the int8 path after quantizing, stacked float32 layers after copying): mapped pages go back
  // to the page cache, converted buffers are freed.
  void release(const float* data, size_t count);

  // Bytes of float32 held outside the mapping (converted tensors not released).
  size_t converted_bytes() const;
  const std::string& path() const { return file_->path(); }

 private:
  // The stored tensor that holds `name` (through its alias, if any), or null.
  const TensorInfo* find(const std::string& name) const;
  // The float32 copy of `count` elements at `src` (a stored tensor's dtype), kept here.
  float* convert(const TensorInfo& t, const uint8_t* src, size_t count);

  std::unique_ptr<SafetensorsFile> file_;
  std::map<std::string, TensorAlias> aliases_;
  std::list<std::vector<float>> converted_;  // A list: releasing one keeps the others in place.
};

}  // namespace clipembed::model
