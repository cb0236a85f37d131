// Internal: the immutable float32 weights of a CLIP vision tower, bound to their tensors.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "clipembed/model.h"
#include "model/safetensors.h"
#include "ops/linear.h"

namespace clipembed::model {

struct LayerNormWeights {
  const float* gamma = nullptr;
  const float* beta = nullptr;
};

struct EncoderLayerWeights {
  LayerNormWeights ln1, ln2;
  ops::LinearWeights q, k, v, out, fc1, fc2;
};

// Float32 views of every tensor the vision tower uses. F32 tensors point into the memory map
// (read in place); F16/BF16 ones, and F32 ones that are not 4-byte aligned, are converted once
// into buffers owned here. Immutable after construction; safe to read from any thread.
class VisionWeights {
 public:
  // Binds and checks every tensor against `config` (shape and dtype), converting as needed. If
  // the checkpoint has no visual projection and config.vision_only, config.projection_dim is set
  // to 0. Throws Error(kModelInvalid) naming the file and the tensor.
  VisionWeights(std::unique_ptr<SafetensorsFile> file, VisionConfig& config);

  const float* class_embedding = nullptr;     // [D]
  ops::LinearWeights patch;                   // [D x 3*P*P], no bias
  const float* position_embedding = nullptr;  // [positions x D]
  LayerNormWeights pre_ln, post_ln;
  std::vector<EncoderLayerWeights> layers;
  ops::LinearWeights projection;  // [projection_dim x D], no bias; weight null when absent.

  // Drops the float32 weights of encoder layer `layer`'s products (not their biases) from memory,
  // for the int8 path once it has its own quantized copy: mapped pages go back to the page cache.
  // The pointers stay valid (a read would fault the pages back in) but are no longer used.
  void release_layer_products(size_t layer);

  // Bytes of float32 weights held outside the mapping (converted tensors).
  size_t converted_bytes() const;
  // The dtype the checkpoint stores the tower in ("F32", "F16", "BF16").
  const std::string& stored_dtype() const { return stored_dtype_; }

 private:
  const float* bind(const std::string& name, const std::vector<int64_t>& shape);

  std::unique_ptr<SafetensorsFile> file_;
  std::vector<std::vector<float>> converted_;
  std::string stored_dtype_;
};

}  // namespace clipembed::model
