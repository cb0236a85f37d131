"""A Dask partition is written whole or not at all: a full or broken disk (injected by the
preloaded tests/fault/write_fault.cc) or a worker killed at any moment leaves either a complete,
loadable part equal to an uninterrupted run's, or no part at all. A failed write removes its
temporaries; a killed one cannot (nothing runs after SIGKILL), so its temporaries are never taken
for parts and the job removes them once every part is complete. A rerun completes the job with the
uninterrupted files."""

import os
import random
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from conftest import FIXTURES, GOOD_IMAGES, image

MODEL = FIXTURES / "models" / "tiny"
FAULT_LIB = os.environ.get("CLIPEMBED_FAULT_LIB", "")

# Runs partitions as a Dask worker does (clipembed.dask._embed_partition), in a process of its
# own so that it can be killed or given a failing disk.
WORKER = """
import sys, json
import clipembed.dask as d
out, model, parts = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
for index, items in parts:
    d._embed_partition(index, items, out, model, "fp32", False, False)
d._remove_orphaned_temporaries(out)  # As embed_files does once every part is complete.
"""


def partitions(tmp_path, count=4, size=5):
    names = GOOD_IMAGES + ["truncated.jpg"]
    inputs = []
    for i in range(count * size):
        target = tmp_path / f"in{i:03d}-{names[i % len(names)]}"
        if not target.exists():
            shutil.copyfile(image(names[i % len(names)]), target)
        inputs.append(str(target))
    return [[p, inputs[p * size:(p + 1) * size]] for p in range(count)]


def run_worker(out, parts, env=None, kill_after=None):
    import json

    process = subprocess.Popen([sys.executable, "-c", WORKER, str(out), str(MODEL),
                                json.dumps(parts)],
                               env=dict(os.environ, **(env or {})), stderr=subprocess.PIPE)
    if kill_after is not None:
        try:
            process.wait(timeout=kill_after)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGKILL)
    _, err = process.communicate()
    return process.returncode, err.decode(errors="replace")


def part_files(directory):
    return {name: (directory / name).read_bytes() for name in sorted(os.listdir(directory))}


def check_parts(directory, reference, killed=False):
    """Every file present is a whole part's, equal to the reference's; no temporaries unless the
    writer was killed (then they are left under names no reader takes for a part)."""
    present = part_files(directory)
    if killed:
        present = {name: data for name, data in present.items()
                   if not (name.startswith("part-") and name.endswith(".tmp"))}
    for name, data in present.items():
        assert ".tmp" not in name, f"a temporary was left: {name}"
        assert name in reference, name
        assert data == reference[name], f"{name} differs from the uninterrupted run"
    for name in present:
        if name.endswith(".npy"):
            np.load(directory / name)  # Loads.
            for suffix in (".paths.txt", ".errors.jsonl"):
                assert name + suffix in present, f"{name} is there without its {suffix}"
    return sum(name.endswith(".npy") for name in present)


@pytest.fixture()
def reference(tmp_path):
    parts = partitions(tmp_path)
    out = tmp_path / "reference"
    out.mkdir()
    code, err = run_worker(out, parts)
    assert code == 0, err
    return parts, part_files(out)


@pytest.mark.skipif(not FAULT_LIB, reason="the fault injector is built with the tests")
def test_a_failing_disk_leaves_whole_parts_only(tmp_path, reference):
    parts, expected = reference
    total = sum(len(data) for data in expected.values())
    runs = faults = 0
    cases = [("ENOSPC", b) for b in (0, 150, total // 3, 2 * total // 3)]
    cases += [("EIO", total // 2), ("EIO", 100), ("EFBIG", total // 4), ("EFBIG", 3 * total // 4)]
    for error, budget in cases:
        out = tmp_path / f"faulted-{error}-{budget}"
        out.mkdir()
        code, err = run_worker(out, parts, env={
            "LD_PRELOAD": FAULT_LIB, "CLIPEMBED_FAULT_DIR": str(out),
            "CLIPEMBED_FAULT_BYTES": str(budget), "CLIPEMBED_FAULT_ERRNO": error})
        runs += 1
        if code != 0:
            faults += 1
            assert f"({error})" in err, err
        check_parts(out, expected)
        code, err = run_worker(out, parts)  # The rerun completes it.
        assert code == 0, err
        assert part_files(out) == expected
    print(f"partition write faults: {runs} runs, {faults} faults injected, wrong files: 0")
    assert faults >= runs // 2


def test_a_worker_killed_at_any_moment_leaves_whole_parts_only(tmp_path, reference):
    parts, expected = reference
    started = time.monotonic()
    run_worker(tmp_path / "reference", parts)  # Every part exists: how long a run does nothing.
    idle = time.monotonic() - started
    (tmp_path / "timed").mkdir()
    started = time.monotonic()
    run_worker(tmp_path / "timed", parts)
    full = time.monotonic() - started
    rng = random.Random(20261207)
    kills = 0
    for i in range(6):
        out = tmp_path / f"killed-{i}"
        out.mkdir()
        code, _ = run_worker(out, parts, kill_after=rng.uniform(0.8 * idle, full))
        kills += code == -signal.SIGKILL
        check_parts(out, expected, killed=code == -signal.SIGKILL)
        code, err = run_worker(out, parts)
        assert code == 0, err
        assert part_files(out) == expected
    print(f"partition kills: {kills} of 6 workers killed mid-way")
