"""Embedding collections over a Dask cluster.

    from dask.distributed import Client, LocalCluster
    import clipembed.dask

    client = Client(LocalCluster(n_workers=4, threads_per_worker=2))
    manifest = clipembed.dask.embed_files("photos/**/*.jpg", "openai/clip-vit-base-patch32",
                                          "embeddings/", normalize=True)

The same code runs on dask-kubernetes or dask-jobqueue (Slurm, PBS) clusters. Each worker process
loads the model once and keeps it, computing with as many threads as the worker has. Each
partition of the input writes part-NNNNN.npy with part-NNNNN.npy.paths.txt and
part-NNNNN.npy.errors.jsonl (the files `clipembed embed --output` writes), every one through a
temporary file and a rename, the .npy last: a partition whose .npy exists is complete, so a retried
task never leaves a half file or a duplicate, and a rerun skips it. _manifest.json is written last,
after the temporary files of any worker killed mid-write are removed.
`clipembed merge DIR --output all.npy` joins the partitions in input order.
"""

from __future__ import annotations

import glob as _glob
import hashlib
import json
import os
import uuid

import numpy as np

from . import Model, _clipembed

_MANIFEST = "_manifest.json"
_JOB = "_job.json"

# Models loaded in this process, by (reference, precision, allow_private_urls): a worker loads
# each model once and keeps it for every partition it runs.
_models: dict = {}


def _model(reference, precision, allow_private_urls):
    key = (reference, precision, allow_private_urls)
    if key not in _models:
        threads = None
        try:
            from distributed import get_worker

            threads = get_worker().nthreads  # The worker's share of the machine's cores.
        except (ImportError, ValueError):
            pass  # Not on a Dask worker: the runtime's default (one thread per core).
        _models[key] = Model(reference, precision=precision, threads=threads,
                             allow_private_urls=allow_private_urls)
    return _models[key]


def _sync_directory(directory: str) -> None:
    """Makes the renames in a directory durable (as the CLI's writer does after each)."""
    fd = os.open(directory or ".", os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_atomically(path: str, write) -> None:
    temporary = f"{path}.{uuid.uuid4().hex}.tmp"
    try:
        with open(temporary, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
        _sync_directory(os.path.dirname(path))
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


_PART_SUFFIXES = (".paths.txt", ".errors.jsonl", "")  # The .npy last: it marks the part done.


def _write_part(path: str, rows, items, ok, errors) -> None:
    """Writes a partition's three files with the CLI's own writer under temporary names, makes
    them durable, then renames each into place, the .npy last."""
    temporary = f"{path}.{uuid.uuid4().hex}.tmp"
    try:
        _clipembed._write_embedding_files(temporary, rows, items, ok, errors)
        for suffix in _PART_SUFFIXES:
            with open(temporary + suffix, "rb") as f:
                os.fsync(f.fileno())
        for suffix in _PART_SUFFIXES:
            os.replace(temporary + suffix, path + suffix)
        _sync_directory(os.path.dirname(path))
    finally:
        for suffix in _PART_SUFFIXES:
            if os.path.exists(temporary + suffix):
                os.remove(temporary + suffix)


def _remove_orphaned_temporaries(output_dir: str) -> None:
    """Removes the temporary files of tasks whose worker was killed mid-write (SIGKILL skips the
    cleanup in _write_atomically and _write_part). Called once every partition is complete, when
    no task of this job can still be writing."""
    for name in os.listdir(output_dir):
        if ".tmp" in name and (name.startswith("part-") or name.startswith("_")):
            try:
                os.remove(os.path.join(output_dir, name))
            except FileNotFoundError:
                pass


def _part_path(output_dir: str, index: int) -> str:
    return os.path.join(output_dir, f"part-{index:05d}.npy")


def _part_counts(npy_path: str) -> dict:
    rows = np.load(npy_path, mmap_mode="r").shape[0]
    with open(npy_path + ".errors.jsonl", "rb") as f:
        failures = sum(1 for _ in f)
    return {"file": os.path.basename(npy_path), "rows": int(rows), "failures": failures}


def _embed_partition(index, items, output_dir, reference, precision, normalize, allow_private_urls):
    """Runs on a worker: embeds one partition and writes its files, unless they exist."""
    path = _part_path(output_dir, index)
    if not os.path.exists(path):
        model = _model(reference, precision, allow_private_urls)
        rows, ok, errors = model.embed_images(items, normalize=normalize, errors="mask")
        _write_part(path, rows, items, ok, errors)
    return dict(_part_counts(path), partition=index)


def _expand(paths) -> list:
    if isinstance(paths, (str, os.PathLike)):
        pattern = os.fspath(paths)
        if any(c in pattern for c in "*?["):
            return sorted(_glob.glob(pattern, recursive=True))
        return [pattern]
    return [os.fspath(p) for p in paths]


def embed_files(paths, model, output_dir, client=None, partition_size=1000, precision="fp32",
                normalize=False, allow_private_urls=False) -> dict:
    """Embeds files and URLs over a Dask cluster into output_dir; returns the manifest.

    paths: a list of paths/URLs, or a glob pattern (sorted; ** recurses). model: a model directory
    or Hugging Face repo id, as every worker sees it. client: a distributed.Client (default: the
    current one). Partitions of partition_size inputs, in input order, become part-NNNNN.npy
    (+ .paths.txt, .errors.jsonl); a partition already written is not run again, so a rerun after
    an interruption does only what is missing and a rerun after completion does nothing.
    The manifest (_manifest.json) holds the inputs, rows, failures and each partition's counts.
    """
    if partition_size < 1:
        raise ValueError("partition_size must be at least 1")
    items = _expand(paths)
    os.makedirs(output_dir, exist_ok=True)
    job = {"model": os.fspath(model), "precision": precision, "normalize": bool(normalize),
           "partition_size": int(partition_size), "inputs": len(items),
           "inputs_sha256": hashlib.sha256("\n".join(items).encode("utf-8", "surrogateescape")).hexdigest()}
    job_path = os.path.join(output_dir, _JOB)
    if os.path.exists(job_path):
        with open(job_path, encoding="utf-8") as f:
            if json.load(f) != job:
                raise ValueError(f"{output_dir} holds the output of another job (different inputs, "
                                 f"model or settings); use an empty directory")
    else:
        _write_atomically(job_path, lambda f: f.write(json.dumps(job).encode()))
    manifest_path = os.path.join(output_dir, _MANIFEST)
    if os.path.exists(manifest_path):
        with open(manifest_path, encoding="utf-8") as f:
            return json.load(f)  # Done before: nothing to run.

    count = (len(items) + partition_size - 1) // partition_size
    todo = [i for i in range(count) if not os.path.exists(_part_path(output_dir, i))]
    results = {}
    if todo:
        if client is None:
            from distributed import get_client

            client = get_client()
        token = job["inputs_sha256"][:12]
        futures = client.map(
            _embed_partition, todo,
            [items[i * partition_size:(i + 1) * partition_size] for i in todo],
            output_dir=os.path.abspath(output_dir), reference=os.fspath(model), precision=precision,
            normalize=bool(normalize), allow_private_urls=allow_private_urls,
            key=[f"clipembed-partition-{token}-{i}" for i in todo], retries=3)
        for result in client.gather(futures):
            results[result["partition"]] = result
    partitions = [results.get(i) or dict(_part_counts(_part_path(output_dir, i)), partition=i)
                  for i in range(count)]
    _remove_orphaned_temporaries(output_dir)
    manifest = dict(job, rows=sum(p["rows"] for p in partitions),
                    failures=sum(p["failures"] for p in partitions), partitions=partitions)
    _write_atomically(manifest_path, lambda f: f.write(json.dumps(manifest, indent=1).encode()))
    return manifest
