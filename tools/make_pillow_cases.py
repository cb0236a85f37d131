#!/usr/bin/python3
"""Writes tests/fixtures/pillow/: small images in the corners of BMP, GIF and WebP where decoders
disagree, each with what Pillow makes of it (the reference: Debian 12's Pillow 9.4, the release
the project's decoders follow where Pillow's releases differ).

For each case NAME the directory holds NAME (the input), and either NAME.rgb.npy (uint8 [H, W, 3]:
Image.open(NAME).convert("RGB")) and NAME.crop.png (the CLIPImageProcessor crop of it: shortest
side to 224 with BICUBIC, centre crop 224), or, when Pillow refuses the file, an entry in
cases.json with Pillow's error. Every input is written here (with Pillow, or byte by byte where
Pillow cannot write the corner case); none is copied from Pillow's own test images.

usage: /usr/bin/python3 tools/make_pillow_cases.py   (needs python3-pil and python3-numpy)
"""
import io
import json
import os
import struct

import numpy as np
from PIL import Image

root = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "pillow")
os.makedirs(root, exist_ok=True)
rng = np.random.default_rng(36)
cases = {}


def path(name):
    return os.path.join(root, name)


def palette_image(w, h, colors=256):
    im = Image.fromarray(rng.integers(0, colors, (h, w), dtype=np.uint8), "P")
    im.putpalette(rng.integers(0, 256, 768, dtype=np.uint8).tobytes())
    return im


def bmp_file(info_header, palette, pixels, offset=None):
    """BITMAPFILEHEADER + the given info header, palette and pixel bytes."""
    offset = 14 + len(info_header) + len(palette) if offset is None else offset
    size = 14 + len(info_header) + len(palette) + len(pixels)
    return b"BM" + struct.pack("<IHHI", size, 0, 0, offset) + info_header + palette + pixels


def info_header(w, h, bits, compression=0, colors=0, size=40):
    header = struct.pack("<IiiHHIIiiII", size, w, h, 1, bits, compression, 0, 2835, 2835, colors, 0)
    return header + b"\0" * (size - 40)


def bgrx(n):
    return bytes(rng.integers(0, 256, 4 * n, dtype=np.uint8))


def record(name, data, note):
    with open(path(name), "wb") as f:
        f.write(data)
    try:
        rgb = Image.open(path(name)).convert("RGB")
    except Exception as e:  # Pillow refuses it: the case records why.
        cases[name] = {"note": note, "pillow_error": f"{type(e).__name__}: {e}"}
        return
    np.save(path(name + ".rgb.npy"), np.asarray(rgb))
    w, h = rgb.size
    short, long_ = (w, h) if w <= h else (h, w)
    size = (224, int(224 * long_ / short)) if w <= h else (int(224 * long_ / short), 224)
    if short != 224:
        rgb = rgb.resize(size, Image.BICUBIC)
    left, top = (rgb.size[0] - 224) // 2, (rgb.size[1] - 224) // 2
    rgb.crop((left, top, left + 224, top + 224)).save(path(name + ".crop.png"))
    cases[name] = {"note": note, "size": [w, h]}


# BMP: a palette image whose pixel offset says the pixels start right after the header (the
# palette in between): Pillow (since 9.0) moves such an offset past the palette.
for bits, colors in ((8, 256), (4, 16)):
    im = palette_image(50, 40, colors)
    buffer = io.BytesIO()
    im.save(buffer, "BMP")
    data = bytearray(buffer.getvalue())
    struct.pack_into("<I", data, 10, 14 + 40)
    if bits == 4:  # Pillow writes 8 bits; pack the same indices 4 bits a pixel.
        rows = np.asarray(im)[::-1]
        stride = ((50 * 4 + 31) // 32) * 4
        packed = b"".join(bytes(((r[i] << 4) | (r[i + 1] if i + 1 < 50 else 0))
                                for i in range(0, 50, 2)).ljust(stride, b"\0") for r in rows)
        palette = bytes(data[54:54 + 4 * 16])
        data = bytearray(bmp_file(info_header(50, 40, 4, colors=16), palette, packed, 54))
    record(f"bmp{bits}_offset_before_palette.bmp", bytes(data),
           f"{bits}-bit palette BMP with bfOffBits = 14 + header size")

# RLE8 with encoded runs, odd absolute runs (padded to words), deltas within and across rows,
# end-of-line codes and a run past the row's end.
rle8 = bytes([
    5, 10, 0, 3, 1, 2, 3, 0, 12, 20, 0, 0,        # Row 0: run, odd absolute run + pad, run, EOL.
    4, 7, 0, 2, 3, 1, 6, 9, 0, 0,                 # Row 1: run, delta (+3, +1 row), run, EOL.
    0, 5, 4, 5, 6, 7, 8, 0, 0, 2, 0, 1, 3, 11, 0, 0,  # Row 3: absolute 5, delta down, run, EOL.
    25, 4,                                        # Row 5: a run past the row's end, clipped.
    0, 1])
record("bmp_rle8_delta.bmp",
       bmp_file(info_header(20, 6, 8, compression=1, colors=256), bgrx(256), rle8),
       "RLE8 with delta escapes, odd absolute runs and a run past the row")

# RLE4 with odd-length absolute runs (Pillow 9.4 reads count // 2 bytes of them) and a delta.
rle4 = bytes([
    5, 0x12, 0, 5, 0x34, 0x56, 0x70, 0, 0, 0,     # Row 0: run of 5, absolute 5 (3 bytes + pad).
    0, 3, 0xab, 0xc0, 4, 0xde, 0, 0,              # Row 1: absolute 3, run of 4, EOL.
    0, 2, 2, 1, 6, 0x9f, 0, 0,                    # Row 2: delta (+2, +1 row), run of 6, EOL.
    15, 0x21, 0, 1])
record("bmp_rle4_odd_runs.bmp",
       bmp_file(info_header(15, 5, 4, compression=2, colors=16), bgrx(16), rle4),
       "RLE4 with odd absolute runs and a delta")

# RLE8 whose bitmap ends (end-of-bitmap code) before its last row: Pillow 9.4 refuses it.
record("bmp_rle8_short.bmp",
       bmp_file(info_header(8, 4, 8, compression=1, colors=256), bgrx(256),
                bytes([8, 1, 0, 0, 8, 2, 0, 0, 0, 1])),
       "RLE8 that ends before its last row")

# A header size that no BMP version has (66): Pillow refuses it.
record("bmp_header66.bmp",
       bmp_file(info_header(4, 4, 24, size=66), b"", bytes(rng.integers(0, 256, 48, dtype=np.uint8))),
       "BMP header size 66")

# A DIB: a BMP without its 14-byte file header (as on the clipboard); Pillow reads it by content.
buffer = io.BytesIO()
Image.fromarray(rng.integers(0, 256, (30, 33, 3), dtype=np.uint8), "RGB").save(buffer, "DIB")
record("clipboard.dib", buffer.getvalue(), "24-bit DIB (no BITMAPFILEHEADER)")
buffer = io.BytesIO()
palette_image(21, 17).save(buffer, "DIB")
record("clipboard8.dib", buffer.getvalue(), "8-bit palette DIB (no BITMAPFILEHEADER)")


# GIF: a first frame larger than the logical screen, or reaching past it: Pillow (since 6.1)
# grows the canvas to hold it.
def gif_with_screen(im, screen, offset=(0, 0), transparency=None):
    buffer = io.BytesIO()
    kwargs = {} if transparency is None else {"transparency": transparency}
    im.save(buffer, "GIF", **kwargs)
    data = bytearray(buffer.getvalue())
    struct.pack_into("<HH", data, 6, *screen)
    at = 13 + (3 << ((data[10] & 7) + 1) if data[10] & 0x80 else 0)
    while data[at] == 0x21:  # Extensions: a label, then sub-blocks up to an empty one.
        at += 2
        while data[at]:
            at += data[at] + 1
        at += 1
    assert data[at] == 0x2C, "no image descriptor where expected"
    struct.pack_into("<HH", data, at + 1, *offset)
    return bytes(data)


record("gif_frame_larger.gif", gif_with_screen(palette_image(60, 60), (40, 40)),
       "60x60 first frame on a 40x40 screen")
record("gif_frame_offset.gif",
       gif_with_screen(palette_image(30, 30), (40, 40), offset=(20, 25), transparency=7),
       "30x30 first frame at (20, 25) on a 40x40 screen, with a transparent index")

# Animated WebP: the first frame, as Pillow's WebPAnimDecoder composes it.
frames = [Image.fromarray(rng.integers(0, 256, (36, 44, 4), dtype=np.uint8), "RGBA")
          for _ in range(3)]
buffer = io.BytesIO()
frames[0].save(buffer, "WEBP", save_all=True, append_images=frames[1:], duration=50, lossless=True)
record("webp_animated_lossless.webp", buffer.getvalue(), "animated WebP, 3 lossless RGBA frames")
buffer = io.BytesIO()
frames[0].convert("RGB").save(buffer, "WEBP", save_all=True,
                              append_images=[f.convert("RGB") for f in frames[1:]], duration=50,
                              quality=80)
record("webp_animated_lossy.webp", buffer.getvalue(), "animated WebP, 3 lossy frames")

with open(path("cases.json"), "w") as f:
    json.dump(cases, f, indent=1, sort_keys=True)
    f.write("\n")
print("wrote", len(cases), "cases to", root)
for name, case in sorted(cases.items()):
    print(f"  {name}: {case.get('pillow_error', case.get('size'))}")
