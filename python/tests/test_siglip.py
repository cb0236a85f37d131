"""The SigLIP family through Python: the same calls as for CLIP give transformers' vectors and
sigmoid zero-shot scores, and the Dask path's files equal the CLI's."""

import json

import numpy as np
import pytest

from conftest import FIXTURES, cli_npy, image

MODELS = ["tiny-siglip", "tiny-siglip2"]
SIGLIP = FIXTURES / "siglip"


def manifest_images():
    return [image(entry["file"]) for entry in json.loads((FIXTURES / "manifest.json").read_text())["images"]]


def reference_strings():
    strings = json.loads((FIXTURES / "text" / "strings.json").read_text())["strings"]
    strings += json.loads((SIGLIP / "strings_extra.json").read_text())["strings"]
    return [s["text"] for s in strings]


def close(actual, expected):
    """The fixtures' bound: cosine >= 0.99999 and max |diff| <= 1e-4 x max |expected| per row."""
    for a, e in zip(actual, expected):
        cosine = float(np.dot(a, e) / (np.linalg.norm(a) * np.linalg.norm(e)))
        assert cosine >= 0.99999
        assert np.abs(a - e).max() <= 1e-4 * np.abs(e).max()


@pytest.fixture(scope="module", params=MODELS)
def siglip(request):
    import clipembed

    return request.param, clipembed.Model(str(SIGLIP / "models" / request.param))


def test_family_and_rule(siglip):
    _, model = siglip
    assert model.family == "siglip" and model.zero_shot == "sigmoid"
    assert model.logit_bias == pytest.approx(-10.0)
    assert model.dimension == 32


def test_vectors_equal_transformers(siglip):
    name, model = siglip
    close(model.embed_images(manifest_images()), np.load(SIGLIP / f"image_embeds_{name}.npy"))
    close(model.embed_texts(reference_strings()), np.load(SIGLIP / f"text_embeds_{name}.npy"))


def test_classify_is_the_sigmoid_of_each_logit(siglip):
    name, model = siglip
    labels = reference_strings()[:5]
    scores = model.classify(manifest_images(), labels, template="{}")
    logits = np.load(SIGLIP / f"logits_per_image_{name}.npy")
    np.testing.assert_allclose(scores, 1 / (1 + np.exp(-logits.astype(np.float64))), atol=1e-5)


def test_python_rows_equal_the_cli(siglip, tmp_path):
    name, model = siglip
    items = manifest_images()[:6]
    rows, _, _ = cli_npy(tmp_path, SIGLIP / "models" / name, items)
    np.testing.assert_array_equal(model.embed_images(items), rows)
