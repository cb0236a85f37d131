#!/usr/bin/python3
"""The Python package against the C++ library, and Dask against one process (docs/perf.md).

  bench/python_bench.py [--images N] [--model DIR] [--tiny DIR]

1. Per-call overhead at batch 1: model.embed_images([array]) of one 224 x 224 image on the tiny
   model, against forward_bench's BM_EmbedOneImageCall (the same call in C++), one run each.
2. Throughput on the full-size model (build/models/vit-b-32): one process with 2 threads
   (Model(threads=2).embed_images) against clipembed.dask.embed_files on a LocalCluster of
   2 workers x 1 thread, over the same images (build/bench-images).
"""

import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "build", "python"))

import numpy as np  # noqa: E402


def per_call_overhead(tiny):
    script = f"""
import time, numpy as np, clipembed
m = clipembed.Model({tiny!r}, threads=2)
a = (np.arange(224 * 224 * 3) * 7 % 251).astype(np.uint8).reshape(224, 224, 3)
for _ in range(50): m.embed_images([a])
n, t = 0, time.perf_counter()
while time.perf_counter() - t < 3: m.embed_images([a]); n += 1
print((time.perf_counter() - t) / n * 1e6)
"""
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "build", "python"))
    python_us = float(subprocess.run([sys.executable, "-c", script], env=env, check=True,
                                     capture_output=True, text=True).stdout)
    out = subprocess.run([os.path.join(ROOT, "build", "bench", "forward_bench"),
                          "--benchmark_filter=BM_EmbedOneImageCall", "--benchmark_min_time=3",
                          "--benchmark_format=json"],
                         env=dict(os.environ, CLIPEMBED_BENCH_MODEL=tiny, CLIPEMBED_THREADS="2"),
                         check=True, capture_output=True, text=True).stdout
    cpp_us = json.loads(out)["benchmarks"][0]["real_time"]
    return python_us, cpp_us


def one_process(model, images):
    script = f"""
import time, clipembed
m = clipembed.Model({model!r}, threads=2)
images = {images!r}
m.embed_images(images[:2])
t = time.perf_counter(); m.embed_images(images); print(len(images) / (time.perf_counter() - t))
"""
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "build", "python"))
    return float(subprocess.run([sys.executable, "-c", script], env=env, check=True,
                                capture_output=True, text=True).stdout)


def dask(model, images, partition_size):
    from dask.distributed import Client, LocalCluster

    import clipembed.dask

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        # Warm-up: each worker loads the model before the clock starts.
        with tempfile.TemporaryDirectory() as warm:
            clipembed.dask.embed_files(images[:2], model, warm, client=client, partition_size=1)
        with tempfile.TemporaryDirectory() as out:
            t = time.perf_counter()
            manifest = clipembed.dask.embed_files(images, model, out, client=client,
                                                  partition_size=partition_size)
            elapsed = time.perf_counter() - t
    assert manifest["rows"] == len(images)
    return len(images) / elapsed


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=96)
    parser.add_argument("--model", default=os.path.join(ROOT, "build", "models", "vit-b-32"))
    parser.add_argument("--tiny", default=os.path.join(ROOT, "tests", "fixtures", "models", "tiny"))
    args = parser.parse_args()
    print(subprocess.run(["lscpu"], capture_output=True, text=True).stdout.split("Model name:")[1]
          .splitlines()[0].strip(), f"({os.cpu_count()} CPUs)")
    python_us, cpp_us = per_call_overhead(args.tiny)
    print(f"batch-1 call, tiny model: Python {python_us:.1f} us, C++ {cpp_us:.1f} us, "
          f"overhead {python_us - cpp_us:.1f} us")
    images = sorted(glob.glob(os.path.join(ROOT, "build", "bench-images", "*")))
    images = (images * (args.images // max(len(images), 1) + 1))[:args.images]
    single = one_process(args.model, images)
    spread = dask(args.model, images, partition_size=8)
    print(f"{len(images)} images, {os.path.basename(args.model)}: one process x 2 threads "
          f"{single:.2f} images/s, Dask 2 workers x 1 thread {spread:.2f} images/s "
          f"(ratio {spread / single:.2f})")


if __name__ == "__main__":
    main()
