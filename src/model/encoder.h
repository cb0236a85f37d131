// Internal: the one pre-LayerNorm transformer encoder of every tower (CLIP's and SigLIP's name
// their layers alike), for every precision: vision (no mask) and text (CLIP's causal mask, none
// for SigLIP) run the same layer loop over ops::Dense layers.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "clipembed/model.h"
#include "clipembed/runtime.h"
#include "model/activations.h"
#include "model/weight_file.h"
#include "ops/attention.h"
#include "ops/dense.h"

namespace clipembed::model {

struct LayerNormWeights {
  const float* gamma = nullptr;
  const float* beta = nullptr;
};

// The kernels' activation for a config's hidden_act.
inline ops::Activation activation_of(HiddenAct act) {
  switch (act) {
    case HiddenAct::kGelu:
      return ops::Activation::kGelu;
    case HiddenAct::kGeluTanh:
      return ops::Activation::kGeluTanh;
    case HiddenAct::kQuickGelu:
      break;
  }
  return ops::Activation::kQuickGelu;
}

struct EncoderShape {
  int64_t hidden = 0;
  int64_t intermediate = 0;
  int64_t heads = 0;
  int64_t layers = 0;
  HiddenAct act = HiddenAct::kQuickGelu;
  float eps = 1e-5f;
};

// Packs a product (parts stacked by output) in `precision` and releases the float32 weights it
// was packed from.
ops::Dense pack_dense(Runtime& runtime, WeightFile& weights,
                      std::span<const ops::LinearWeights> parts, Precision precision);

// Immutable after load; any number of threads may run() at once, each with its own activations.
class Encoder {
 public:
  // Binds `prefix`layers.N.* (transformers' CLIPEncoderLayer names) for every layer and packs
  // its products in `precision`, query, key and value stacked into one; with
  // `float32_attention`, the attention's products stay float32 under kInt8 (the text tower's, whose
  // attention is the part int8 hurts most; docs/perf.md). The mapped float32 tensors are released
  // from memory as each layer is packed, so peak memory stays near the model's.
  Encoder(Runtime& runtime, WeightFile& weights, const std::string& prefix,
          const EncoderShape& shape, Precision precision, bool float32_attention = false);

  // Runs every layer on x in place: rows of `hidden` floats, item i being rows
  // [item_starts[i], item_starts[i + 1]) (attention stays within an item). Every kernel computes
  // a row from that row (and its item) alone, so an item's result does not depend on its batch.
  // With `pooled_rows` (one row of each item, as an index among all rows) only those rows are
  // computed past the last layer's keys and values, and only they hold the encoder's output;
  // empty, every row does. `buffers` hold the activations (reused).
  void run(Runtime& runtime, float* x, std::span<const int64_t> item_starts,
           ops::AttentionMask mask, std::span<const int64_t> pooled_rows,
           EncoderActivations& buffers) const;

  // Bytes of activations run() allocates for `rows` rows.
  static int64_t activation_bytes(const EncoderShape& shape, int64_t rows, Precision precision);
  // Bytes of weights this encoder owns (stacked or quantized products).
  size_t owned_bytes() const;

 private:
  struct Layer {
    LayerNormWeights ln1, ln2;
    ops::Dense qkv, out, fc1, fc2;
  };
  EncoderShape shape_;
  std::vector<Layer> layers_;
};

}  // namespace clipembed::model
