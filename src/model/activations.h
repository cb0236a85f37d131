// Internal: the buffers of a forward pass, kept in a clipembed::Workspace and reused from call to
// call. Reuse matters: a buffer freed after each batch and allocated again for the next has its
// pages handed back and faulted in again every time (on the CLI's many small batches that doubled
// the time of a run; docs/perf.md).
#pragma once

#include <cstdint>
#include <vector>

#include "ops/dense.h"

namespace clipembed::model {

// Sizes a reused buffer: grows when needed, never shrinks (resize keeps the capacity).
template <typename T>
T* sized(std::vector<T>& buffer, int64_t count) {
  buffer.resize(static_cast<size_t>(count));
  return buffer.data();
}

struct EncoderActivations {
  std::vector<float> h, qkv, attn, mlp, pooled, pooled_queries;
  ops::DenseScratch dense;
};

struct VisionActivations {
  std::vector<float> patches, embedded, x, pooled;
  std::vector<int64_t> patch_items, token_items, row_items;
  EncoderActivations encoder;
};

struct TextActivations {
  std::vector<float> x, pooled;
  std::vector<int64_t> token_items, row_items;
  EncoderActivations encoder;
};

}  // namespace clipembed::model
