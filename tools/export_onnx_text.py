#!/usr/bin/python3
"""Export a HF-layout CLIP text tower to ONNX, to benchmark ONNX Runtime on the same weights.

usage: export_onnx_text.py MODEL_DIR OUT.onnx [--check IDS.json OUT.npy]
Needs Debian's python3-torch and python3-numpy. A plain restatement of CLIPTextModelWithProjection
in torch (token and position embeddings, pre-LayerNorm layers under the causal mask, the final
layer norm, the end-of-text row, the projection), with export_onnx.py's layer. The end-of-text
row is the position of the largest id, as transformers takes it for CLIP's original configs (the
end-of-text token is the last of the vocabulary, and padding repeats it). --check writes the
embeddings of the id lists in IDS.json (a JSON list of lists), each run alone, to OUT.npy.
"""
import json, os, sys
import numpy as np
import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from export_onnx import Layer, read_safetensors  # noqa: E402


class Text(nn.Module):
    def __init__(self, c, w):
        super().__init__()
        d = c["hidden_size"]
        self.token = nn.Parameter(w["text_model.embeddings.token_embedding.weight"])
        self.pos = nn.Parameter(w["text_model.embeddings.position_embedding.weight"])
        self.final = nn.LayerNorm(d, eps=c.get("layer_norm_eps", 1e-5))
        self.layers = nn.ModuleList(Layer(d, c["intermediate_size"], c["num_attention_heads"],
                                          c.get("hidden_act", "quick_gelu"))
                                    for _ in range(c["num_hidden_layers"]))
        self.proj = nn.Linear(d, w["text_projection.weight"].shape[0], bias=False)
        with torch.no_grad():
            self.proj.weight.copy_(w["text_projection.weight"])
            self.final.weight.copy_(w["text_model.final_layer_norm.weight"])
            self.final.bias.copy_(w["text_model.final_layer_norm.bias"])
            for i, L in enumerate(self.layers):
                p = f"text_model.encoder.layers.{i}."
                for m, name in ((L.q, "self_attn.q_proj"), (L.k, "self_attn.k_proj"), (L.v, "self_attn.v_proj"),
                                (L.o, "self_attn.out_proj"), (L.fc1, "mlp.fc1"), (L.fc2, "mlp.fc2"),
                                (L.ln1, "layer_norm1"), (L.ln2, "layer_norm2")):
                    m.weight.copy_(w[p + name + ".weight"]); m.bias.copy_(w[p + name + ".bias"])

    def forward(self, ids):
        n = ids.shape[1]
        x = self.token[ids] + self.pos[:n]
        mask = torch.triu(torch.full((n, n), float("-inf")), diagonal=1)
        for L in self.layers:
            x = L(x, mask)
        x = self.final(x)
        return self.proj(x[torch.arange(x.shape[0]), ids.argmax(dim=-1)])


def main():
    model_dir, out = sys.argv[1], sys.argv[2]
    cfg = json.load(open(os.path.join(model_dir, "config.json")))
    w = read_safetensors(os.path.join(model_dir, "model.safetensors"), ("text_model.", "text_projection"))
    m = Text(cfg["text_config"], w).eval()
    if len(sys.argv) == 6 and sys.argv[3] == "--check":
        ids = json.load(open(sys.argv[4]))
        with torch.no_grad():
            rows = [m(torch.tensor([i], dtype=torch.int64))[0].numpy() for i in ids]
        np.save(sys.argv[5], np.stack(rows).astype(np.float32))
    torch.onnx.export(m, torch.tensor([[49406, 320, 1125, 539, 49407]] * 2, dtype=torch.int64), out,
                      input_names=["input_ids"], output_names=["text_embeds"],
                      dynamic_axes={"input_ids": {0: "batch", 1: "sequence"}, "text_embeds": {0: "batch"}},
                      opset_version=14, do_constant_folding=True)
    print("wrote", out)


if __name__ == "__main__":
    main()
