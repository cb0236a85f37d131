"""clipembed index build/add, search and dedup as a user runs them: a build killed with SIGKILL and
finished by index add equals an uninterrupted one; near-duplicate copies are grouped exactly as
the threshold says; bad indexes and queries are typed errors that write nothing."""

import json
import os
import shutil
import signal
import subprocess
import time

import numpy as np
import PIL.Image
import pytest

import clipembed
from conftest import CLI, FIXTURES, GOOD_IMAGES, image

MODEL = FIXTURES / "models" / "tiny-clip"


def run(*args, **kwargs):
    return subprocess.run([str(CLI), *map(str, args)], capture_output=True, text=True, **kwargs)


def committed_rows(npy):
    try:
        return np.load(npy, mmap_mode="r").shape[0]
    except (ValueError, OSError):
        return 0


def snapshot(directory):
    return {p.name: (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(directory.iterdir())}


@pytest.fixture(scope="module")
def many(tmp_path_factory):
    root = tmp_path_factory.mktemp("many")
    for i in range(240):
        name = ["hd.jpg", "progressive.jpg", "portrait.png", "truncated.jpg"][i % 4]
        shutil.copyfile(image(name), root / f"{i:04d}-{name}")
    return root


def test_a_killed_build_finished_by_add_equals_an_uninterrupted_build(many, tmp_path):
    whole = tmp_path / "whole.idx"
    assert run("index", "build", "-q", "--model", MODEL, "--output", whole, many).returncode == 3
    killed = tmp_path / "killed.idx"
    build = subprocess.Popen([str(CLI), "index", "build", "-q", "--batch-size", "4", "--model",
                              str(MODEL), "--output", str(killed), str(many)])
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        # Killed once the first batch is committed (the header counts it: the rows' data is
        # written before the header, so the file's size alone does not say so).
        vectors = killed / "vectors.npy"
        if vectors.exists() and build.poll() is None and committed_rows(vectors) > 0:
            build.send_signal(signal.SIGKILL)
            break
        time.sleep(0.005)
    assert build.wait() == -signal.SIGKILL, "the kill must land mid-build"
    rows_at_kill = np.load(killed / "vectors.npy").shape[0]
    assert 0 < rows_at_kill < 180
    # index build refuses to start over an index; index add finishes it.
    assert run("index", "build", "-q", "--model", MODEL, "--output", killed, many).returncode == 2
    assert run("index", "add", "-q", killed, many).returncode == 3
    for name in ["vectors.npy", "vectors.npy.paths.txt", "vectors.npy.errors.jsonl"]:
        assert (killed / name).read_bytes() == (whole / name).read_bytes(), name
    assert not (killed / "index.faiss").exists()  # A flat index is searched in vectors.npy.
    info = json.loads((killed / "index.json").read_text())
    assert info["count"] == 180 and info["failures"] == 60 and info["index_type"] == "flat"
    query = run("search", killed, "--text", "a red car", "-k", "5")
    assert query.returncode == 0
    assert query.stdout == run("search", whole, "--text", "a red car", "-k", "5").stdout
    hits = [json.loads(line) for line in query.stdout.splitlines()]
    assert [h["rank"] for h in hits] == [1, 2, 3, 4, 5]
    # Adding the same files again adds nothing.
    assert run("index", "add", "-q", killed, many).returncode == 0
    assert json.loads((killed / "index.json").read_text())["count"] == 180


def near_duplicate_set(root):
    """Originals, and resized, re-encoded (JPEG quality 60) and slightly cropped copies of some."""
    paths = []
    for name in ["square.jpg", "landscape.jpg", "portrait.png", "palette.png", "plain.bmp",
                 "progressive.jpg", "lossy.webp", "gray.jpg"]:
        original = PIL.Image.open(image(name)).convert("RGB")
        base = root / (name.split(".")[0] + ".png")
        original.save(base)
        paths.append(base)
    for name in ["square", "landscape", "portrait"]:
        original = PIL.Image.open(root / f"{name}.png")
        w, h = original.size
        original.resize((w // 2, h // 2), PIL.Image.BICUBIC).save(root / f"{name}-resized.png")
        original.save(root / f"{name}-q60.jpg", quality=60)
        original.crop((w // 30, h // 30, w - w // 30, h - h // 30)).save(root / f"{name}-crop.png")
        paths += [root / f"{name}-resized.png", root / f"{name}-q60.jpg", root / f"{name}-crop.png"]
    return sorted(paths)


def test_near_duplicates_are_grouped_exactly_as_the_threshold_says(tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    paths = near_duplicate_set(images)
    index = tmp_path / "dups.idx"
    assert run("index", "build", "-q", "--model", MODEL, "--output", index, images).returncode == 0
    # By hand: cosines of the model's vectors, and the components of pairs above the threshold.
    vectors = clipembed.Model(str(MODEL)).embed_images([str(p) for p in paths], normalize=True)
    cosines = vectors.astype(np.float64) @ vectors.astype(np.float64).T
    upper = np.sort(cosines[np.triu_indices(len(paths), 1)])
    gaps = np.diff(upper)
    cut = int(np.argmax(gaps[len(gaps) // 2:])) + len(gaps) // 2  # The widest gap, upper half.
    threshold = (upper[cut] + upper[cut + 1]) / 2
    assert gaps[cut] > 1e-4
    component = list(range(len(paths)))
    changed = True
    while changed:
        changed = False
        for i in range(len(paths)):
            for j in range(len(paths)):
                if i != j and cosines[i, j] > threshold and component[j] > component[i]:
                    component[j] = component[i]
                    changed = True
    expected = {}
    for i, c in enumerate(component):
        expected.setdefault(c, []).append(str(paths[i]))
    expected = [g for _, g in sorted(expected.items()) if len(g) > 1]
    out = run("dedup", index, "--threshold", f"{threshold:.9f}")
    assert out.returncode == 0, out.stderr
    groups = [json.loads(line)["paths"] for line in out.stdout.splitlines()]
    assert groups == expected
    assert len(groups) >= 1


def test_bad_indexes_and_queries_are_typed_errors_that_write_nothing(tmp_path):
    index = tmp_path / "one.idx"
    assert run("index", "build", "-q", "--model", MODEL, "--output", index,
               image("square.jpg"), image("gray.png")).returncode == 0
    before = snapshot(index)
    other = run("index", "add", "-q", "--model", FIXTURES / "models" / "tiny-p16", index,
                image("palette.png"))
    assert other.returncode == 2 and "index_invalid" in other.stderr and "not comparable" in other.stderr
    assert snapshot(index) == before
    bad_query = run("search", index, "--image", image("truncated.jpg"))
    assert bad_query.returncode == 2 and "image_decode" in bad_query.stderr and bad_query.stdout == ""
    missing_query = run("search", index, "--image", tmp_path / "nope.jpg")
    assert missing_query.returncode == 2 and missing_query.stdout == ""
    queries = tmp_path / "queries.jsonl"
    queries.write_text(json.dumps({"text": "a cat"}) + "\n" + json.dumps({"image": image("truncated.jpg")})
                       + "\n" + json.dumps({"image": image("square.jpg")}) + "\n")
    several = run("search", index, "--queries-from", queries, "-k", "1")
    assert several.returncode == 3
    lines = [json.loads(line) for line in several.stdout.splitlines()]
    assert [line["query"] for line in lines] == [0, 1, 2]
    assert lines[1]["error"]["code"] == "image_decode"
    assert lines[2]["path"] == image("square.jpg") and abs(lines[2]["score"] - 1) < 1e-6
    assert snapshot(index) == before
    truncated = tmp_path / "truncated.idx"
    shutil.copytree(index, truncated)
    with open(truncated / "vectors.npy", "r+b") as f:
        f.truncate(os.path.getsize(truncated / "vectors.npy") - 4)
    result = run("search", truncated, "--text", "a cat")
    assert result.returncode == 2 and "index_invalid" in result.stderr
    missing = tmp_path / "missing.idx"
    shutil.copytree(index, missing)
    os.remove(missing / "vectors.npy")
    result = run("search", missing, "--text", "a cat")
    assert result.returncode == 2 and "index_invalid" in result.stderr
    assert run("dedup", missing).returncode == 2
    not_an_index = run("search", tmp_path, "--text", "a cat")
    assert not_an_index.returncode == 2 and "index_invalid" in not_an_index.stderr
