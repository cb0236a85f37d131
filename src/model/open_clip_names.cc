// The mapping from transformers' CLIPModel tensor names to open_clip's state dict (the names
// open_clip's model.CLIP gives its parameters; transformers' convert_clip_original_pytorch_to_hf
// applies the same mapping in the other direction).
#include "model/open_clip_config.h"

namespace clipembed::model {
namespace {

void add_encoder(std::map<std::string, TensorAlias>& out, const std::string& hf_prefix,
                 const std::string& prefix, int layers) {
  for (int i = 0; i < layers; ++i) {
    const std::string hf = hf_prefix + "encoder.layers." + std::to_string(i) + ".";
    const std::string oc = prefix + "transformer.resblocks." + std::to_string(i) + ".";
    for (const char* p : {"weight", "bias"}) {
      const std::string s(p);
      out[hf + "layer_norm1." + s] = {oc + "ln_1." + s};
      out[hf + "layer_norm2." + s] = {oc + "ln_2." + s};
      out[hf + "self_attn.out_proj." + s] = {oc + "attn.out_proj." + s};
      out[hf + "mlp.fc1." + s] = {oc + "mlp.c_fc." + s};
      out[hf + "mlp.fc2." + s] = {oc + "mlp.c_proj." + s};
      const char* qkv[] = {"q_proj", "k_proj", "v_proj"};
      for (int part = 0; part < 3; ++part) {
        out[hf + "self_attn." + qkv[part] + "." + s] = {oc + "attn.in_proj_" + s, part, 3};
      }
    }
  }
}

}  // namespace

std::map<std::string, TensorAlias> open_clip_aliases(int vision_layers, int text_layers) {
  std::map<std::string, TensorAlias> out;
  const std::string v = "vision_model.";
  out[v + "embeddings.patch_embedding.weight"] = {"visual.conv1.weight"};
  out[v + "embeddings.class_embedding"] = {"visual.class_embedding"};
  out[v + "embeddings.position_embedding.weight"] = {"visual.positional_embedding"};
  for (const char* p : {"weight", "bias"}) {
    out[v + "pre_layrnorm." + p] = {std::string("visual.ln_pre.") + p};
    out[v + "post_layernorm." + p] = {std::string("visual.ln_post.") + p};
    out[std::string("text_model.final_layer_norm.") + p] = {std::string("ln_final.") + p};
  }
  add_encoder(out, v, "visual.", vision_layers);
  out["visual_projection.weight"] = {"visual.proj", 0, 1, true};
  out["text_model.embeddings.token_embedding.weight"] = {"token_embedding.weight"};
  out["text_model.embeddings.position_embedding.weight"] = {"positional_embedding"};
  add_encoder(out, "text_model.", "", text_layers);
  out["text_projection.weight"] = {"text_projection", 0, 1, true};
  out["logit_scale"] = {"logit_scale"};
  return out;
}

}  // namespace clipembed::model
