"""An OpenCLIP checkpoint (open_clip_config.json + open_clip_model.safetensors) through Python:
the same calls as for any CLIP give open_clip's own vectors and zero-shot scores."""

import json

import numpy as np
import pytest

from conftest import FIXTURES, image

OPEN_CLIP = FIXTURES / "open_clip"


def close(actual, expected):
    """The fixtures' bound: cosine >= 0.99999 and max |diff| <= 1e-4 x max |expected| per row."""
    for a, e in zip(actual, expected):
        cosine = float(np.dot(a, e) / (np.linalg.norm(a) * np.linalg.norm(e)))
        assert cosine >= 0.99999
        assert np.abs(a - e).max() <= 1e-4 * np.abs(e).max()


@pytest.fixture(scope="module")
def model():
    import clipembed

    return clipembed.Model(str(OPEN_CLIP / "models" / "tiny-open-clip"))


def images():
    return [image(name) for name in json.loads((OPEN_CLIP / "manifest.json").read_text())["images"]]


def texts():
    return [s["text"] for s in json.loads((FIXTURES / "text" / "strings.json").read_text())["strings"]]


def test_format_and_config(model):
    assert model.format == "open_clip" and model.family == "clip"
    assert model.zero_shot == "softmax" and model.dimension == 16
    assert model.config["model_cfg"]["embed_dim"] == 16


def test_vectors_equal_open_clip(model):
    close(model.embed_images(images()), np.load(OPEN_CLIP / "image_embeds_tiny-open-clip.npy"))
    close(model.embed_texts(texts()), np.load(OPEN_CLIP / "text_embeds_tiny-open-clip.npy"))


def test_classify_is_the_softmax_of_open_clip_logits(model):
    scores = np.asarray(model.classify(images(), texts()[:5], template="{}"), dtype=np.float64)
    logits = np.load(OPEN_CLIP / "logits_per_image_tiny-open-clip.npy").astype(np.float64)
    want = np.exp(logits - logits.max(axis=1, keepdims=True))
    np.testing.assert_allclose(scores, want / want.sum(axis=1, keepdims=True), atol=1e-4)
