"""clipembed.dask.embed_files on a LocalCluster of two worker processes; embed --shard + merge."""

import json
import os
import shutil
import subprocess
import threading
import time

import numpy as np
import pytest

from conftest import CLI, FIXTURES, GOOD_IMAGES, cli_npy, image

distributed = pytest.importorskip("distributed")
import clipembed.dask  # noqa: E402

MODEL = FIXTURES / "models" / "tiny"


@pytest.fixture(scope="module")
def collection(tmp_path_factory):
    """A few hundred image files (fixture images copied under new names) and two bad ones."""
    root = tmp_path_factory.mktemp("collection")
    names = GOOD_IMAGES + ["truncated.jpg", "not_an_image.jpg"]
    paths = []
    for i in range(300):
        source = names[i % len(names)]
        target = root / f"{i:04d}-{source}"
        shutil.copyfile(image(source), target)
        paths.append(str(target))
    return paths


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                                       dashboard_address=None)
    with distributed.Client(cluster) as c:
        yield c
    cluster.close()


def merged(directory, tmp_path):
    out = tmp_path / "merged.npy"
    subprocess.run([str(CLI), "merge", "-q", str(directory), "--output", str(out)], check=True)
    return (np.load(out), (tmp_path / "merged.npy.paths.txt").read_bytes(),
            (tmp_path / "merged.npy.errors.jsonl").read_bytes())


def test_dask_equals_the_cli_and_a_rerun_does_no_work(collection, client, tmp_path):
    expected = cli_npy(tmp_path, MODEL, collection)
    out = tmp_path / "dask"
    manifest = clipembed.dask.embed_files(collection, str(MODEL), str(out), client=client,
                                          partition_size=25)
    assert manifest["inputs"] == 300 and len(manifest["partitions"]) == 12
    assert manifest["rows"] + manifest["failures"] == 300 and manifest["failures"] == 42
    rows, paths, errors = merged(out, tmp_path)
    np.testing.assert_array_equal(rows, expected[0])
    assert rows.tobytes() == expected[0].tobytes()
    assert paths == expected[1]
    assert errors == expected[2]
    # Each worker process loaded the model once, with one runtime thread (its share).
    loaded = client.run(lambda: [(k[0], m.dimension) for k, m in clipembed.dask._models.items()])
    assert all(len(v) <= 1 for v in loaded.values())
    stamps = {p: os.stat(p).st_mtime_ns for p in sorted(str(f) for f in out.iterdir())}
    again = clipembed.dask.embed_files(collection, str(MODEL), str(out), client=client,
                                       partition_size=25)
    assert again == manifest
    assert {p: os.stat(p).st_mtime_ns for p in stamps} == stamps
    with pytest.raises(ValueError):
        clipembed.dask.embed_files(collection[:10], str(MODEL), str(out), client=client)


def test_a_worker_killed_mid_run_leaves_a_complete_result(collection, client, tmp_path):
    expected = cli_npy(tmp_path, MODEL, collection)
    out = tmp_path / "killed"
    result = {}

    def run():
        result["manifest"] = clipembed.dask.embed_files(collection, str(MODEL), str(out),
                                                        client=client, partition_size=5)

    runner = threading.Thread(target=run)
    runner.start()
    deadline = time.monotonic() + 60
    while not list(out.glob("part-*.npy")) and time.monotonic() < deadline:
        time.sleep(0.01)
    done_at_kill = len(list(out.glob("part-*.npy")))
    victim = sorted(client.scheduler_info()["workers"])[0]
    # SIGKILL a moment after client.run has answered, so the call itself completes.
    client.run(lambda: threading.Timer(0.05, os.kill, (os.getpid(), 9)).start(), workers=[victim])
    runner.join(timeout=180)
    assert not runner.is_alive()
    assert victim not in client.scheduler_info()["workers"]  # It died (the nanny started another).
    assert 0 < done_at_kill < 60, "the kill must land while partitions remain"
    manifest = result["manifest"]
    assert manifest["rows"] + manifest["failures"] == 300
    rows, paths, errors = merged(out, tmp_path)
    assert rows.tobytes() == expected[0].tobytes()
    assert paths == expected[1] and errors == expected[2]
    assert not list(out.glob("*.tmp*"))


def test_temporaries_left_by_a_killed_writer_are_removed(collection, client, tmp_path):
    # What a worker SIGKILLed inside _write_atomically leaves behind: its partition is then rerun
    # elsewhere, and the finished job must not keep the orphan.
    out = tmp_path / "orphans"
    out.mkdir()
    orphan = out / "part-00001.npy.paths.txt.0123456789abcdef0123456789abcdef.tmp"
    orphan.write_bytes(b"half a file")
    unrelated = out / "notes.tmp"
    unrelated.write_bytes(b"the user's")
    manifest = clipembed.dask.embed_files(collection[:20], str(MODEL), str(out), client=client,
                                          partition_size=10)
    assert manifest["rows"] + manifest["failures"] == 20
    assert not orphan.exists() and unrelated.exists()


def test_a_partition_is_the_cli_output_byte_for_byte(collection, tmp_path):
    # The partition files come from the CLI's own writer: the same bytes as `clipembed embed
    # --output` for the same inputs, header, paths and errors included (12 good, 2 bad).
    items = collection[:14]
    cli_npy(tmp_path, MODEL, items)
    model = clipembed.Model(str(MODEL))
    rows, ok, errors = model.embed_images(items, errors="mask")
    part = tmp_path / "part.npy"
    clipembed._clipembed._write_embedding_files(str(part), rows, items, ok, errors)
    assert sum(1 for e in errors if e is not None) == 2
    for suffix in ["", ".paths.txt", ".errors.jsonl"]:
        assert (tmp_path / f"part.npy{suffix}").read_bytes() == \
            (tmp_path / f"cli.npy{suffix}").read_bytes(), suffix
    with pytest.raises(clipembed.Error) as mismatch:
        clipembed._clipembed._write_embedding_files(str(part), rows[:3], items, ok, errors)
    assert mismatch.value.code == "invalid_argument"


def test_a_name_that_is_not_utf8_is_written_as_the_cli_writes_it(tmp_path):
    # The error message quotes the file name: the partition's .errors.jsonl holds its bytes as
    # the CLI's does (\udcff), not the \xff of the message printed in Python.
    broken = os.path.join(str(tmp_path), os.fsdecode(b"\xff-truncated.jpg"))
    shutil.copyfile(image("truncated.jpg"), broken)
    items = [image("square.jpg"), broken]
    (tmp_path / "list.txt").write_bytes(b"".join(os.fsencode(i) + b"\n" for i in items))
    subprocess.run([str(CLI), "embed", "-q", "--model", str(MODEL), "--files-from",
                    str(tmp_path / "list.txt"), "--output", str(tmp_path / "cli.npy")], check=False)
    model = clipembed.Model(str(MODEL))
    rows, ok, errors = model.embed_images(items, errors="mask")
    assert "\\xff-truncated.jpg" in errors[1].message
    clipembed._clipembed._write_embedding_files(str(tmp_path / "part.npy"), rows, items, ok, errors)
    for suffix in ["", ".paths.txt", ".errors.jsonl"]:
        assert (tmp_path / f"part.npy{suffix}").read_bytes() == \
            (tmp_path / f"cli.npy{suffix}").read_bytes(), suffix


def test_three_shards_merge_to_the_unsharded_bytes(collection, tmp_path):
    listing = tmp_path / "inputs.txt"
    listing.write_text("".join(f"{p}\n" for p in collection))
    whole = tmp_path / "whole.npy"
    subprocess.run([str(CLI), "embed", "-q", "--model", str(MODEL), "--files-from", str(listing),
                    "--output", str(whole)])
    shards = [subprocess.Popen([str(CLI), "embed", "-q", "--model", str(MODEL), "--files-from",
                                str(listing), "--shard", f"{k}/3", "--output",
                                str(tmp_path / f"shard-{k}.npy"), "--threads", "1"])
              for k in range(3)]
    assert [s.wait() for s in shards] == [3, 3, 3]  # Each shard holds some of the bad files.
    merged_path = tmp_path / "all.npy"
    subprocess.run([str(CLI), "merge", "-q", *[str(tmp_path / f"shard-{k}.npy") for k in (2, 0, 1)],
                    "--output", str(merged_path)], check=True)
    for suffix in ["", ".paths.txt", ".errors.jsonl"]:
        assert (tmp_path / f"all.npy{suffix}").read_bytes() == (tmp_path / f"whole.npy{suffix}").read_bytes()
    manifest = json.loads((tmp_path / "shard-1.npy.shard.json").read_text())
    assert manifest["shard"] == 1 and manifest["of"] == 3 and manifest["inputs"] == 100
    missing = subprocess.run([str(CLI), "merge", "-q", str(tmp_path / "shard-0.npy"),
                              "--output", str(tmp_path / "partial.npy")])
    assert missing.returncode == 2 and not (tmp_path / "partial.npy").exists()
