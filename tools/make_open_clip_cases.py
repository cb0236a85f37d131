#!/usr/bin/python3
"""Writes tests/fixtures/open_clip_modes/: small images in every mode Pillow opens (per format),
each with the crop open_clip's eval transform makes of it (the reference: Debian 12's Pillow 9.4,
whose Image.resize torchvision's Resize calls on a PIL image).

open_clip's steps, done here with Pillow itself: Image.open; resize the shortest side to 64 (the
long side int(64 * long / short)) with BICUBIC on the image as opened (Pillow resizes "P" and "1"
with NEAREST, "RGBA" and "LA" premultiplied, "CMYK" in CMYK, "I" in 32-bit integers); centre
crop 64 at int(round((size - 64) / 2)); convert("RGB"). NAME.crop.png holds the result. Every
input is written by this script.

usage: /usr/bin/python3 tools/make_open_clip_cases.py   (needs python3-pil and python3-numpy)
"""
import io
import json
import os
import struct

import numpy as np
from PIL import Image

root = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "open_clip_modes")
os.makedirs(root, exist_ok=True)
rng = np.random.default_rng(31)
SIZE = 64
W, H = 97, 71  # Odd, not square: both the resize and the half-to-even crop offset matter.
modes = {}


def smooth(channels, w=W, h=H):
    """Smooth random content (a blurred field), so that resampling has something to average."""
    field = rng.integers(0, 256, (h // 8 + 2, w // 8 + 2, channels)).astype(np.float64)
    img = Image.fromarray(field.astype(np.uint8).squeeze(), None)
    arr = np.asarray(img.resize((w, h), Image.BILINEAR))
    noise = rng.integers(-20, 21, arr.shape)
    return np.clip(arr.astype(np.int64) + noise, 0, 255).astype(np.uint8)


def alpha_plane(w=W, h=H):
    """Alpha with fully transparent, fully opaque and partial regions."""
    a = smooth(1, w, h).astype(np.int64)
    a[:, : w // 5] = 0
    a[:, -w // 5 :] = 255
    return a.astype(np.uint8)


def open_clip_crop(path):
    im = Image.open(path)
    w, h = im.size
    new = (SIZE, int(SIZE * h / w)) if w <= h else (int(SIZE * w / h), SIZE)
    if new != im.size:
        im = im.resize(new, Image.BICUBIC)
    left = int(round((new[0] - SIZE) / 2.0))
    top = int(round((new[1] - SIZE) / 2.0))
    return Image.open(path).mode, im.crop((left, top, left + SIZE, top + SIZE)).convert("RGB")


def record(name, data):
    with open(os.path.join(root, name), "wb") as f:
        f.write(data)
    mode, crop = open_clip_crop(os.path.join(root, name))
    crop.save(os.path.join(root, name + ".crop.png"))
    modes[name] = mode


def saved(im, fmt, **options):
    out = io.BytesIO()
    im.save(out, fmt, **options)
    return out.getvalue()


rgba = np.dstack([smooth(3), alpha_plane()])
grey = smooth(1)
palette = rng.integers(0, 256, 768, dtype=np.uint8).tobytes()
indices = Image.fromarray(rng.integers(0, 256, (H, W), dtype=np.uint8), "L")
p_image = Image.frombytes("P", (W, H), indices.tobytes())
p_image.putpalette(palette)
grey_palette = bytes(v for i in range(256) for v in (i, i, i))
bilevel = Image.fromarray((grey > 128).astype(np.uint8) * 255, "L").convert("1")

record("png_rgba.png", saved(Image.fromarray(rgba, "RGBA"), "PNG"))
record("png_la.png", saved(Image.fromarray(np.dstack([grey, alpha_plane()]), "LA"), "PNG"))
record("png_palette.png", saved(p_image, "PNG"))
record("png_bilevel.png", saved(bilevel, "PNG"))
record("png_grey16.png", saved(Image.fromarray((grey.astype(np.int32) * 3).astype(np.uint16)), "PNG"))
record("webp_rgba_lossless.webp", saved(Image.fromarray(rgba, "RGBA"), "WEBP", lossless=True))
record("webp_rgba_lossy.webp", saved(Image.fromarray(rgba, "RGBA"), "WEBP", quality=80))
record("gif_palette.gif", saved(p_image, "GIF"))
grey_gif = Image.frombytes("P", (W, H), Image.fromarray(grey.squeeze()).tobytes())
grey_gif.putpalette(grey_palette)
record("gif_grey_ramp.gif", saved(grey_gif, "GIF"))
record("jpeg_cmyk.jpg", saved(Image.fromarray(np.dstack([smooth(3), smooth(1)]), "CMYK"), "JPEG"))
record("bmp_palette.bmp", saved(p_image, "BMP"))
record("bmp_grey.bmp", saved(Image.fromarray(grey.squeeze(), "L"), "BMP"))
record("bmp_bilevel.bmp", saved(bilevel, "BMP"))

# A 32-bit BMP with an alpha mask (BITMAPV4HEADER, BI_BITFIELDS): Pillow opens it as "RGBA".
# Pillow writes 32-bit BMPs without masks (opened as "RGB"), so the file is written by hand.
bgra = rgba[::-1, :, [2, 1, 0, 3]].tobytes()  # Bottom-up rows, B G R A.
v4 = struct.pack("<IiiHHIIiiII", 108, W, H, 1, 32, 3, len(bgra), 2835, 2835, 0, 0)
v4 += struct.pack("<IIII", 0xFF0000, 0xFF00, 0xFF, 0xFF000000) + b"sRGB" + b"\0" * 48
record("bmp_bgra_bitfields.bmp", b"BM" + struct.pack("<IHHI", 14 + 108 + len(bgra), 0, 0, 122) + v4 + bgra)

with open(os.path.join(root, "modes.json"), "w") as f:
    json.dump({"size": SIZE, "pillow": Image.__version__, "modes": modes}, f, indent=1, sort_keys=True)
print(json.dumps(modes, indent=1, sort_keys=True))
