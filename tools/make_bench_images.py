#!/usr/bin/python3
"""Writes N 640x480 JPEGs (quality 90) for the end-to-end pipeline bench: smooth colour waves plus
sensor-like noise, so they decode like photos rather than like flat test cards.

usage: /usr/bin/python3 tools/make_bench_images.py DIR [N]   (needs python3-pil and python3-numpy)
"""
import os
import sys
import numpy as np
from PIL import Image

out = sys.argv[1]
count = int(sys.argv[2]) if len(sys.argv) > 2 else 64
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(1)
y, x = np.mgrid[0:480, 0:640]
for i in range(count):
    freq = rng.uniform(0.005, 0.05, 3)
    phase = rng.uniform(0, 6.28, 3)
    img = np.stack([127 + 100 * np.sin(freq[c] * x + phase[c]) * np.cos(freq[(c + 1) % 3] * y)
                    for c in range(3)], -1)
    img += rng.normal(0, 12, img.shape)
    Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(
        os.path.join(out, f"{i:03d}.jpg"), quality=90)
