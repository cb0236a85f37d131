"""Shared fixtures: paths of the project's test fixtures and the CLI, set by CTest's environment
(CLIPEMBED_SOURCE_DIR, CLIPEMBED_CLI) or found from this file's place in the tree."""

import os
import pathlib
import subprocess

import numpy as np
import pytest

ROOT = pathlib.Path(os.environ.get("CLIPEMBED_SOURCE_DIR", pathlib.Path(__file__).resolve().parents[2]))
FIXTURES = ROOT / "tests" / "fixtures"
CLI = pathlib.Path(os.environ.get("CLIPEMBED_CLI", ROOT / "build" / "src" / "clipembed"))
GOOD_IMAGES = ["square.jpg", "gray.png", "palette.png", "rgba.png", "cmyk.jpg", "lossy.webp",
               "plain.bmp", "anim.gif", "deep16.png", "progressive.jpg", "tall.png", "hd.jpg"]


@pytest.fixture(scope="session")
def tiny_clip():
    import clipembed

    return clipembed.Model(str(FIXTURES / "models" / "tiny-clip"))


def image(name):
    return str(FIXTURES / "images" / name)


def cli_npy(tmp_path, model, inputs, *extra):
    """What `clipembed embed --output X.npy` writes for `inputs`: (rows, paths lines, errors lines)."""
    out = tmp_path / "cli.npy"
    listing = tmp_path / "cli-inputs.txt"
    listing.write_text("".join(f"{i}\n" for i in inputs))
    subprocess.run([str(CLI), "embed", "-q", "--model", str(model), "--files-from", str(listing),
                    "--output", str(out), *extra], check=False)
    return (np.load(out), (tmp_path / "cli.npy.paths.txt").read_bytes(),
            (tmp_path / "cli.npy.errors.jsonl").read_bytes())
