"""clipembed.Model: every input kind equals the CLI bit for bit, errors per input, threads, GIL,
asyncio."""

import asyncio
import pathlib
import threading
import time

import numpy as np
import PIL.Image
import pytest

import clipembed
from conftest import FIXTURES, GOOD_IMAGES, cli_npy, image


def test_properties(tiny_clip):
    assert tiny_clip.dimension == 16
    assert tiny_clip.precision == "fp32"
    assert tiny_clip.has_text and tiny_clip.has_vision
    assert tiny_clip.config["model_type"] == "clip"
    assert "embed_images" in clipembed.Model.__doc__


def help_text():
    import pydoc

    return pydoc.render_doc(clipembed.Model)


def test_help_documents_every_method():
    text = help_text()
    for name in ["embed_images", "embed_texts", "classify", "embed_images_async", "errors=\"mask\""]:
        assert name in text


def test_every_input_kind_equals_the_cli_bit_for_bit(tiny_clip, tmp_path):
    paths = [image(n) for n in GOOD_IMAGES]
    expected, _, _ = cli_npy(tmp_path, FIXTURES / "models" / "tiny-clip", paths)
    assert expected.shape == (len(paths), 16)
    np.testing.assert_array_equal(tiny_clip.embed_images(paths), expected)
    np.testing.assert_array_equal(tiny_clip.embed_images([pathlib.Path(p) for p in paths]), expected)
    np.testing.assert_array_equal(
        tiny_clip.embed_images([pathlib.Path(p).read_bytes() for p in paths]), expected)
    np.testing.assert_array_equal(
        tiny_clip.embed_images([bytearray(pathlib.Path(p).read_bytes()) for p in paths]), expected)
    pil = [PIL.Image.open(p) for p in paths]
    np.testing.assert_array_equal(tiny_clip.embed_images(pil), expected)
    arrays = [np.asarray(im.convert("RGB")) for im in pil]
    np.testing.assert_array_equal(tiny_clip.embed_images(arrays), expected)
    # A strided view is taken as the pixels it shows.
    doubled = np.repeat(arrays[0], 2, axis=1)[:, ::2]
    np.testing.assert_array_equal(tiny_clip.embed_images([doubled]), expected[:1])


def test_normalize_equals_the_cli(tiny_clip, tmp_path):
    paths = [image(n) for n in GOOD_IMAGES[:4]]
    expected, _, _ = cli_npy(tmp_path, FIXTURES / "models" / "tiny-clip", paths, "--normalize")
    np.testing.assert_array_equal(tiny_clip.embed_images(paths, normalize=True), expected)


def test_url_items(tiny_clip):
    import http.server
    import socketserver

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args):
            super().__init__(*args, directory=str(FIXTURES / "images"))

        def log_message(self, *args):
            pass

    with socketserver.TCPServer(("127.0.0.1", 0), Quiet) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{server.server_address[1]}/square.jpg"
        with pytest.raises(clipembed.Error) as refused:
            tiny_clip.embed_images([url])
        assert refused.value.code == "url_forbidden"
        local = clipembed.Model(str(FIXTURES / "models" / "tiny-clip"), allow_private_urls=True)
        np.testing.assert_array_equal(local.embed_images([url]), tiny_clip.embed_images([image("square.jpg")]))
        server.shutdown()


def test_errors_raise_names_the_first_bad_item(tiny_clip):
    with pytest.raises(clipembed.Error) as e:
        tiny_clip.embed_images([image("square.jpg"), image("truncated.jpg"), "missing.jpg"])
    assert e.value.code == "image_decode"
    assert e.value.index == 1
    assert str(e.value).startswith("input 1: ")
    with pytest.raises(TypeError):
        tiny_clip.embed_images([image("square.jpg"), 42])
    with pytest.raises(TypeError):
        tiny_clip.embed_images([np.zeros((4, 4, 3), dtype=np.float32)])
    with pytest.raises(ValueError):
        tiny_clip.embed_images([image("square.jpg")], errors="ignore")


def test_errors_mask_gives_nan_rows_and_each_error(tiny_clip):
    items = [image("square.jpg"), image("truncated.jpg"), "missing.jpg", b"not an image",
             image("gray.png")]
    rows, ok, errors = tiny_clip.embed_images(items, errors="mask")
    assert ok.tolist() == [True, False, False, False, True]
    assert np.isnan(rows[1:4]).all()
    np.testing.assert_array_equal(rows[[0, 4]], tiny_clip.embed_images([items[0], items[4]]))
    assert errors[0] is None and errors[4] is None
    assert [e.code for e in errors[1:4]] == ["image_decode", "io", "image_decode"]
    assert [e.index for e in errors[1:4]] == [1, 2, 3]


def test_texts_and_classify(tiny_clip, tmp_path):
    texts = ["a photo of a cat", "a dog", "ünïcödé text"]
    vectors = tiny_clip.embed_texts(texts)
    assert vectors.shape == (3, 16) and vectors.dtype == np.float32
    for i, t in enumerate(texts):
        np.testing.assert_array_equal(tiny_clip.embed_texts([t])[0], vectors[i])
    probabilities = tiny_clip.classify([image("square.jpg"), image("gray.png")], ["cat", "dog", "car"])
    assert probabilities.shape == (2, 3)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, rtol=1e-6)
    assert tiny_clip.tokenize("a cat")[0] == 49406


def test_eight_threads_of_fifty_calls_equal_sequential(tiny_clip):
    items = [image(n) for n in GOOD_IMAGES]
    expected = [tiny_clip.embed_images([items[i % len(items)], items[(i + 3) % len(items)]])
                for i in range(50)]
    failures = []

    def worker():
        for i in range(50):
            got = tiny_clip.embed_images([items[i % len(items)], items[(i + 3) % len(items)]])
            if not np.array_equal(got, expected[i]):
                failures.append(i)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []


def test_the_gil_is_released_during_a_call(tiny_clip):
    items = [image("hd.jpg")] * 64
    ticks = 0
    running = True

    def spin():
        nonlocal ticks
        while running:
            ticks += 1

    spinner = threading.Thread(target=spin)
    spinner.start()
    before = ticks
    started = time.monotonic()
    tiny_clip.embed_images(items)
    elapsed = time.monotonic() - started
    during = ticks - before
    running = False
    spinner.join()
    # A held GIL would let the spinner run only at the call's few Python-level switches.
    assert elapsed > 0.05
    assert during > 10000, (during, elapsed)


def test_asyncio_gather_of_a_hundred_calls(tiny_clip):
    items = [image(n) for n in GOOD_IMAGES]
    expected = tiny_clip.embed_images(items)

    async def main():
        before = threading.active_count()
        results = await asyncio.gather(
            *[tiny_clip.embed_images_async([items[i % len(items)]]) for i in range(100)])
        assert threading.active_count() == before  # No thread per call.
        bad = tiny_clip.embed_images_async(["missing.jpg"])
        with pytest.raises(clipembed.Error):
            await bad
        texts = await tiny_clip.embed_texts_async(["a cat"])
        return results, texts

    results, texts = asyncio.run(main())
    for i, r in enumerate(results):
        np.testing.assert_array_equal(r[0], expected[i % len(items)])
    np.testing.assert_array_equal(texts, tiny_clip.embed_texts(["a cat"]))


def test_int8_and_bad_models(tmp_path):
    model = clipembed.Model(str(FIXTURES / "models" / "tiny"), precision="int8")
    assert model.precision == "int8"
    assert clipembed.Model(str(FIXTURES / "models" / "tiny"), precision="bf16").precision == "bf16"
    with pytest.raises(clipembed.Error) as e:
        clipembed.Model(str(tmp_path))
    assert e.value.code == "model_invalid"
    with pytest.raises(clipembed.Error) as e:
        clipembed.Model(str(FIXTURES / "models" / "tiny"), precision="fp16")
    assert e.value.code == "unsupported"
    vision_only = clipembed.Model(str(FIXTURES / "models" / "tiny"))
    with pytest.raises(clipembed.Error) as e:
        vision_only.embed_texts(["a cat"])
    # The tiny checkpoint has a text tower but no tokenizer files: the error names them.
    assert e.value.code == "model_invalid" and "tokenizer" in e.value.message


def test_outputs_own_their_memory(tiny_clip):
    rows = tiny_clip.embed_images([image("square.jpg")])
    assert rows.flags["C_CONTIGUOUS"] and rows.flags["OWNDATA"] and rows.flags["WRITEABLE"]
