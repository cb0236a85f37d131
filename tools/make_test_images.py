#!/usr/bin/python3
"""Writes the small test inputs that tests/ uses beside the shared reference fixtures.

  tests/fixtures/resize/  a random 37x23 RGB PNG and Pillow 9.4's BICUBIC resizes of it, to check
                          the resampler byte for byte on up-, down- and one-axis resizes.
  tests/fixtures/fuzz/    tiny valid images in every supported format: seeds for the mutation test.

usage: /usr/bin/python3 tools/make_test_images.py   (needs python3-pil and python3-numpy)
"""
import os
import numpy as np
from PIL import Image

root = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures")
rng = np.random.default_rng(1234)

os.makedirs(os.path.join(root, "resize"), exist_ok=True)
src = Image.fromarray(rng.integers(0, 256, (23, 37, 3), dtype=np.uint8), "RGB")
src.save(os.path.join(root, "resize", "src_37x23.png"))
for w, h in [(224, 139), (11, 7), (37, 5), (13, 23), (100, 23), (1, 1), (36, 22)]:
    src.resize((w, h), Image.BICUBIC).save(os.path.join(root, "resize", f"bicubic_{w}x{h}.png"))

os.makedirs(os.path.join(root, "fuzz"), exist_ok=True)
small = Image.fromarray(rng.integers(0, 256, (12, 16, 3), dtype=np.uint8), "RGB")
out = lambda name: os.path.join(root, "fuzz", name)
small.save(out("seed.jpg"), quality=80)
small.save(out("seed_progressive.jpg"), quality=80, progressive=True)
small.convert("CMYK").save(out("seed_cmyk.jpg"))
small.save(out("seed_rgb.png"))
small.convert("P", palette=Image.ADAPTIVE, colors=16).save(out("seed_palette.png"))
small.convert("LA").save(out("seed_la.png"))
Image.fromarray((rng.integers(0, 65536, (8, 8), dtype=np.uint16)), "I;16").save(out("seed_gray16.png"))
small.save(out("seed.gif"))
small.save(out("seed.bmp"))
small.convert("P", palette=Image.ADAPTIVE, colors=16).save(out("seed_palette.bmp"))
small.save(out("seed_lossy.webp"), quality=70)
small.save(out("seed_lossless.webp"), lossless=True)
print("wrote", root)

# What Pillow decodes each seed to (convert("RGB")), for an exact decoder check per format.
for name in sorted(os.listdir(os.path.join(root, "fuzz"))):
    if name.endswith(".npy"):
        continue
    rgb = np.asarray(Image.open(out(name)).convert("RGB"))
    np.save(out(name + ".rgb.npy"), rgb)
