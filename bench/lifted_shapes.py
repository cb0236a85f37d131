#!/usr/bin/python3
"""A search benchmark collection with real structure at the width of real models.

Renders COUNT shapes images (tools/shapes_clip.py: 48 colour x shape classes at random sizes,
places, rotations and backgrounds), embeds them with the trained examples/models/shapes-clip
(64 dimensions, normalized) through the CLI, and lifts each embedding to every width in DIMS by one
fixed random projection plus small noise, normalized again: the neighbourhoods of a really trained
model's space, at the width of real CLIP vectors (512 for ViT-B, 1152 for SigLIP so400m). Writes
OUT/shapes-64.npy and OUT/lifted-shapes-{D}.npy (float32 [COUNT, D]), which bench/index_bench
reads (COLLECTION=...). Deterministic for a given --seed; rendering runs on every core.

  bench/lifted_shapes.py --count 200000 --dims 512,1152 --out build/lifted
"""
import argparse
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))
import shapes_clip  # noqa: E402  (tools/ is not a package)

CHUNK = 2000  # Images rendered, embedded and deleted at a time (about 20 MB of PNG).
NOISE = 0.1   # The noise's norm relative to the lifted vector's.


def render_chunk(job):
    directory, seed, start, count = job
    rng = np.random.default_rng([seed, start])
    paths = []
    for i in range(start, start + count):
        color, shape = shapes_clip.CLASSES[int(rng.integers(0, len(shapes_clip.CLASSES)))]
        image, _ = shapes_clip.render(rng, color, shape)
        path = os.path.join(directory, f"{i:07d}.png")
        image.save(path, compress_level=1)
        paths.append(path)
    return paths


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", type=int, default=200000)
    ap.add_argument("--dims", default="512,1152")
    ap.add_argument("--out", default=os.path.join(ROOT, "build", "lifted"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--clipembed", default=os.path.join(ROOT, "build", "src", "clipembed"))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    base_path = os.path.join(args.out, "shapes-64.npy")
    started = time.time()
    if not os.path.exists(base_path) or np.load(base_path, mmap_mode="r").shape[0] != args.count:
        model = os.path.join(ROOT, "examples", "models", "shapes-clip")
        parts = []
        with tempfile.TemporaryDirectory() as scratch, multiprocessing.Pool() as pool:
            for start in range(0, args.count, CHUNK * 4):
                jobs = []
                for s in range(start, min(args.count, start + CHUNK * 4), CHUNK):
                    directory = os.path.join(scratch, str(s))
                    os.makedirs(directory)
                    jobs.append((directory, args.seed, s, min(CHUNK, args.count - s)))
                for (directory, _, s, _), paths in zip(jobs, pool.map(render_chunk, jobs)):
                    out = os.path.join(scratch, f"{s}.npy")
                    subprocess.run([args.clipembed, "embed", "-q", "--model", model, "--normalize",
                                    "--output", out, *paths], check=True)
                    parts.append(np.load(out))
                    shutil.rmtree(directory)
                print(f"{min(args.count, start + CHUNK * 4)} images rendered and embedded "
                      f"({time.time() - started:.0f} s)", flush=True)
        np.save(base_path, np.concatenate(parts).astype(np.float32))
    base = np.load(base_path)
    rng = np.random.default_rng(args.seed + 1)
    for dim in (int(d) for d in args.dims.split(",")):
        projection = rng.normal(0, 1 / np.sqrt(base.shape[1]), (base.shape[1], dim)).astype(np.float32)
        lifted = base @ projection
        lifted += rng.normal(0, NOISE / np.sqrt(base.shape[1]), lifted.shape).astype(np.float32)
        lifted /= np.linalg.norm(lifted, axis=1, keepdims=True)
        np.save(os.path.join(args.out, f"lifted-shapes-{dim}.npy"), lifted.astype(np.float32))
        print(f"wrote {args.out}/lifted-shapes-{dim}.npy [{lifted.shape[0]}, {dim}]", flush=True)


if __name__ == "__main__":
    main()
