// Internal: the reader of OpenCLIP's own checkpoint format (open_clip_config.json +
// open_clip_model.safetensors) and the names its tensors have in transformers' layout.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "clipembed/config.h"

namespace clipembed::model {

// Fills `config` (vision, text, preprocessing, format and file names) from
// `directory`/open_clip_config.json. Throws Error(kModelInvalid) for a malformed file or missing
// weights, kUnsupported for settings clipembed does not implement and for a directory that has
// only open_clip_pytorch_model.bin.
void read_open_clip_config(const std::string& directory, ModelConfig& config);

// Where a tensor that the towers ask for by its transformers name lies in an open_clip state
// dict: a tensor of its own, one of the equal row blocks of a stacked tensor
// (attn.in_proj_weight holds q, k and v), or the transpose of one (open_clip multiplies by
// visual.proj and text_projection from the right).
struct TensorAlias {
  std::string source;
  int part = 0;   // Which of `parts` equal row blocks.
  int parts = 1;  // 1: the whole tensor.
  bool transposed = false;
};

// The open_clip name of every transformers tensor name of a CLIP with these layer counts.
std::map<std::string, TensorAlias> open_clip_aliases(int vision_layers, int text_layers);

}  // namespace clipembed::model
