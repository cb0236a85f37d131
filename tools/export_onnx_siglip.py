#!/usr/bin/python3
"""Export a HF-layout SigLIP vision tower to ONNX (to benchmark ONNX Runtime on the same weights),
and optionally write reference embeddings of random images computed by the same torch module.

usage: export_onnx_siglip.py MODEL_DIR OUT.onnx [--check DIR N]
  --check DIR N: writes N random images of the model's size as DIR/NNN.png (seeded) and
                 DIR/reference.npy, their pooled embeddings from this module in float32, for a
                 comparison with `clipembed embed`.
Needs Debian's python3-torch and python3-numpy (python3-pil for --check). The module restates
transformers 4.40.2's SiglipVisionModel (modeling_siglip.py) in plain torch: patch Conv2d with bias,
learned positions, no class token, pre-LN encoder layers with gelu_pytorch_tanh and eps from the
config (1e-6 by default), post_layernorm on every token, then SiglipMultiheadAttentionPoolingHead:
a learned probe through nn.MultiheadAttention (stacked in_proj), then a + mlp(layernorm(a)), token 0.
"""
import json
import os
import struct
import sys

import numpy as np
import torch
from torch import nn


def read_safetensors(path):
    dt = {"F32": np.float32, "F16": np.float16}
    with open(path, "rb") as fh:
        n = struct.unpack("<Q", fh.read(8))[0]
        header = json.loads(fh.read(n))
        data = fh.read()
    out = {}
    for k, v in header.items():
        if k == "__metadata__" or not k.startswith("vision_model."):
            continue
        a, b = v["data_offsets"]
        out[k] = torch.from_numpy(np.frombuffer(data[a:b], dt[v["dtype"]]).reshape(v["shape"]).astype(np.float32))
    return out


class Mlp(nn.Module):
    def __init__(self, d, m):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(d, m), nn.Linear(m, d)

    def forward(self, x):
        return self.fc2(nn.functional.gelu(self.fc1(x), approximate="tanh"))


class Attention(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.q_proj, self.k_proj, self.v_proj, self.out_proj = (nn.Linear(d, d) for _ in range(4))
        self.heads = heads

    def forward(self, h):
        b, n, d = h.shape
        split = lambda t: t.reshape(b, n, self.heads, d // self.heads).transpose(1, 2)
        q, k, v = split(self.q_proj(h)), split(self.k_proj(h)), split(self.v_proj(h))
        a = torch.softmax((q @ k.transpose(-1, -2)) * (d // self.heads) ** -0.5, dim=-1) @ v
        return self.out_proj(a.transpose(1, 2).reshape(b, n, d))


class Layer(nn.Module):
    def __init__(self, d, m, heads, eps):
        super().__init__()
        self.layer_norm1, self.layer_norm2 = nn.LayerNorm(d, eps=eps), nn.LayerNorm(d, eps=eps)
        self.self_attn, self.mlp = Attention(d, heads), Mlp(d, m)

    def forward(self, x):
        x = x + self.self_attn(self.layer_norm1(x))
        return x + self.mlp(self.layer_norm2(x))


class Head(nn.Module):
    def __init__(self, d, m, heads, eps):
        super().__init__()
        self.probe = nn.Parameter(torch.zeros(1, 1, d))
        self.attention = nn.MultiheadAttention(d, heads, batch_first=True)
        self.layernorm, self.mlp = nn.LayerNorm(d, eps=eps), Mlp(d, m)

    def forward(self, x):
        a = self.attention(self.probe.expand(x.shape[0], -1, -1), x, x, need_weights=False)[0]
        return (a + self.mlp(self.layernorm(a)))[:, 0]


class Vision(nn.Module):
    def __init__(self, c, w):
        super().__init__()
        d, p, eps = c["hidden_size"], c["patch_size"], c["layer_norm_eps"]
        self.patch = nn.Conv2d(3, d, p, p)
        self.pos = nn.Parameter(w["vision_model.embeddings.position_embedding.weight"])
        self.layers = nn.ModuleList(Layer(d, c["intermediate_size"], c["num_attention_heads"], eps)
                                    for _ in range(c["num_hidden_layers"]))
        self.post = nn.LayerNorm(d, eps=eps)
        self.head = Head(d, c["intermediate_size"], c["num_attention_heads"], eps)
        state = {"patch.weight": w["vision_model.embeddings.patch_embedding.weight"],
                 "patch.bias": w["vision_model.embeddings.patch_embedding.bias"], "pos": self.pos.data}
        for k, v in w.items():
            for src, dst in (("vision_model.encoder.", ""), ("vision_model.post_layernorm.", "post."),
                             ("vision_model.head.", "head.")):
                if k.startswith(src):
                    state[dst + k[len(src):]] = v
        self.load_state_dict(state, strict=True)

    def forward(self, x):
        x = self.patch(x).flatten(2).transpose(1, 2) + self.pos
        for layer in self.layers:
            x = layer(x)
        return self.head(self.post(x))


def main():
    model_dir, out = sys.argv[1], sys.argv[2]
    root = json.load(open(os.path.join(model_dir, "config.json")))
    cfg = dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12,
               image_size=224, patch_size=16, layer_norm_eps=1e-6)
    cfg.update(root.get("vision_config", root))
    torch.set_num_threads(int(os.environ.get("CLIPEMBED_THREADS", "2")))
    m = Vision(cfg, read_safetensors(os.path.join(model_dir, "model.safetensors"))).eval()
    size = cfg["image_size"]
    if "--check" in sys.argv:
        from PIL import Image
        i = sys.argv.index("--check")
        check_dir, n = sys.argv[i + 1], int(sys.argv[i + 2])
        os.makedirs(check_dir, exist_ok=True)
        rng = np.random.default_rng(7)
        refs = []
        for k in range(n):
            img = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
            Image.fromarray(img).save(os.path.join(check_dir, f"{k:03d}.png"))
            # SiglipImageProcessor on an image of the model's size: rescale in float64, then
            # normalise in float32 ((x - 0.5) / 0.5), channels first.
            x = ((img.astype(np.float64) * (1 / 255)).astype(np.float32) - np.float32(0.5)) / np.float32(0.5)
            with torch.no_grad():
                refs.append(m(torch.from_numpy(x.transpose(2, 0, 1)[None].copy()))[0].numpy())
        np.save(os.path.join(check_dir, "reference.npy"), np.stack(refs).astype(np.float32))
    with torch.no_grad():
        torch.onnx.export(m, torch.randn(2, 3, size, size), out, input_names=["pixel_values"],
                          output_names=["image_embeds"],
                          dynamic_axes={"pixel_values": {0: "batch"}, "image_embeds": {0: "batch"}},
                          opset_version=14, do_constant_folding=True)
    print("wrote", out)


if __name__ == "__main__":
    main()
