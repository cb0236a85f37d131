"""clipembed.Index from Python: it builds the same files `clipembed index build` does, searches as
the CLI and NumPy's cosines say, groups near duplicates as `clipembed dedup` does, and refuses bad
queries, items and indexes with typed errors."""

import json
import os
import shutil
import subprocess
import threading

import numpy as np
import pytest

import clipembed
from conftest import CLI, FIXTURES, GOOD_IMAGES, image

MODEL = FIXTURES / "models" / "tiny-clip"


def run(*args):
    return subprocess.run([str(CLI), *map(str, args)], capture_output=True, text=True)


@pytest.fixture(scope="module")
def model():
    return clipembed.Model(MODEL)  # A pathlib.Path, as given.


@pytest.fixture(scope="module")
def files():
    return [image(name) for name in GOOD_IMAGES]


@pytest.fixture(scope="module")
def built(model, files, tmp_path_factory):
    directory = tmp_path_factory.mktemp("python") / "photos.idx"  # A pathlib.Path, as given.
    return clipembed.Index.add(directory, model, files + [image("truncated.jpg")])


def test_an_index_built_from_python_equals_the_clis(built, model, files, tmp_path):
    cli = tmp_path / "cli.idx"
    assert run("index", "build", "-q", "--model", MODEL, "--output", cli, *files,
               image("truncated.jpg")).returncode == 3
    python = built.directory
    for name in ["vectors.npy", "vectors.npy.paths.txt", "vectors.npy.errors.jsonl"]:
        assert (cli / name).read_bytes() == open(f"{python}/{name}", "rb").read(), name
    cli_info = json.loads((cli / "index.json").read_text())
    assert built.info["model"] == cli_info["model"] == str(MODEL)
    assert built.info["model_hash"] == cli_info["model_hash"]
    assert built.info["count"] == len(built) == len(files) and built.info["failures"] == 1
    assert built.info["type"] == "flat" and built.info["dimension"] == model.dimension
    assert [built.path(i) for i in range(len(built))] == files
    with pytest.raises(IndexError):
        built.path(len(built))


def test_search_ranks_as_numpy_and_the_cli_do(built, model, files):
    vectors = model.embed_images(files, normalize=True).astype(np.float64)
    texts = ["a red car", "a photo of a cat", "gray"]
    queries = model.embed_texts(texts)
    many = built.search(queries, k=5)
    assert len(many) == len(texts)
    for query, text, hits in zip(queries, texts, many):
        q = query.astype(np.float64) / np.linalg.norm(query.astype(np.float64))
        cosines = vectors @ q
        assert [h.row for h in hits] == list(np.argsort(-cosines, kind="stable")[:5])
        for h in hits:
            assert h.path == files[h.row]
            assert abs(h.score - cosines[h.row]) < 1e-5
        # One query alone gives its list, equal to the batch's and to the CLI's answer.
        alone = built.search(query, k=5)
        assert [(h.row, h.score) for h in alone] == [(h.row, h.score) for h in hits]
        out = run("search", built.directory, "--model", MODEL, "--text", text, "-k", "5")
        assert out.returncode == 0, out.stderr
        cli = [json.loads(line) for line in out.stdout.splitlines()]
        assert [c["path"] for c in cli] == [h.path for h in hits]
        assert all(abs(c["score"] - h.score) < 1e-6 for c, h in zip(cli, hits))
    # An image finds itself first; k past the size gives every row.
    hits = built.search(model.embed_images([files[3]])[0], k=100)
    assert len(hits) == len(files) and hits[0].row == 3 and abs(hits[0].score - 1) < 1e-6
    assert "SearchHit(row=3" in repr(hits[0])


def test_searches_from_many_threads_agree(built, model):
    queries = model.embed_texts(["a red car", "a dog", "a tree", "blue"])
    expected = [[(h.row, h.score) for h in hits] for hits in built.search(queries, k=4)]
    results = [None] * 16

    def search(i):
        hits = built.search(queries[i % 4], k=4)
        results[i] = [(h.row, h.score) for h in hits]

    threads = [threading.Thread(target=search, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [expected[i % 4] for i in range(16)]


def test_duplicate_groups_equal_the_clis_dedup(model, tmp_path):
    originals = ["square.jpg", "gray.png", "plain.bmp", "hd.jpg"]
    items = []
    for copy in range(2):
        for name in originals[: 2 + copy]:
            target = tmp_path / f"{copy}-{name}"
            shutil.copyfile(image(name), target)
            items.append(str(target))
    index = clipembed.Index.add(str(tmp_path / "dups.idx"), model, items)
    groups = index.duplicate_groups(0.999)
    out = run("dedup", index.directory, "--threshold", "0.999")
    assert out.returncode == 0, out.stderr
    cli = [json.loads(line)["paths"] for line in out.stdout.splitlines()]
    assert [[index.path(r) for r in g] for g in groups] == cli
    assert [sorted(os.path.basename(index.path(r))[2:] for r in g) for g in groups] == [
        ["square.jpg", "square.jpg"], ["gray.png", "gray.png"]]


def test_a_name_that_is_not_utf8_comes_back_as_the_str_that_opens_it(model, tmp_path):
    name = os.fsdecode(b"\xff\xfe-square.jpg")  # Surrogate escapes, as os.listdir gives it.
    path = os.path.join(str(tmp_path), name)
    shutil.copyfile(image("square.jpg"), path)
    index = clipembed.Index.add(tmp_path / "names.idx", model, [path, image("gray.png")])
    hit = index.search(model.embed_images([image("square.jpg")])[0], k=1)[0]
    assert hit.path == path == index.path(hit.row)
    assert open(hit.path, "rb").read() == open(image("square.jpg"), "rb").read()
    assert "\\udcff" in repr(hit)
    # Such a name in an error message is escaped, not a UnicodeDecodeError.
    broken = os.path.join(str(tmp_path), os.fsdecode(b"\xff-truncated.jpg"))
    shutil.copyfile(image("truncated.jpg"), broken)
    with pytest.raises(clipembed.Error) as e:
        model.embed_images([broken])
    assert e.value.code == "image_decode" and "\\xff-truncated.jpg" in str(e.value)


def test_bad_queries_items_and_indexes_are_typed_errors(built, model, tmp_path):
    dimension = built.info["dimension"]
    for bad in [np.zeros(dimension + 1, np.float32), np.zeros((2, dimension - 1), np.float32),
                np.zeros((1, 1, dimension), np.float32)]:
        with pytest.raises(clipembed.Error) as e:
            built.search(bad)
        assert e.value.code == "invalid_argument"
    query = np.ones((2, dimension), np.float32)
    query[1, 5] = np.nan
    with pytest.raises(clipembed.Error) as e:
        built.search(query)
    assert e.value.code == "invalid_argument" and "query 1" in str(e.value)
    assert len(clipembed.Index(built.directory)) == len(built)
    with pytest.raises(clipembed.Error) as e:
        clipembed.Index(tmp_path / "missing.idx")
    assert e.value.code == "index_invalid"
    with pytest.raises(clipembed.Error) as e:
        clipembed.Index.add(str(tmp_path / "bytes.idx"), model, [open(image("square.jpg"), "rb").read()])
    assert e.value.code == "invalid_argument"
    with pytest.raises(TypeError):
        clipembed.Index.add(str(tmp_path / "t.idx"), "not a model", [image("square.jpg")])
    with pytest.raises(clipembed.Error) as e:
        clipembed.Index.add(str(tmp_path / "t.idx"), model, [image("square.jpg")], type="kd-tree")
    assert e.value.code == "invalid_argument"
    # Vectors of another model never enter the index, and the index is unchanged.
    other = clipembed.Model(str(FIXTURES / "models" / "tiny-p16"))
    before = open(f"{built.directory}/vectors.npy", "rb").read()
    with pytest.raises(clipembed.Error) as e:
        clipembed.Index.add(built.directory, other, [image("palette.png")])
    assert e.value.code == "index_invalid"
    assert open(f"{built.directory}/vectors.npy", "rb").read() == before
