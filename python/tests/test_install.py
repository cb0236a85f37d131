"""The package installs offline with Debian's pip and setuptools: a wheel, installed into a clean
virtual environment made with --system-site-packages, imports and embeds."""

import os
import pathlib
import subprocess
import sys

import pytest

from conftest import FIXTURES, ROOT

BUILD_DIR = os.environ.get("CLIPEMBED_BUILD_DIR")


@pytest.mark.skipif(BUILD_DIR is None, reason="run by CTest, which names the CMake build to reuse")
def test_wheel_installs_and_imports_in_a_clean_venv(tmp_path):
    env = dict(os.environ, CLIPEMBED_CMAKE_BUILD_DIR=BUILD_DIR, PIP_NO_INDEX="1")
    env.pop("PYTHONPATH", None)
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-build-isolation", "--no-deps",
                    "-w", str(wheels), str(ROOT)], check=True, env=env, cwd=tmp_path)
    (wheel,) = wheels.glob("clipembed-*.whl")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    subprocess.run([python, "-m", "pip", "install", "-q", "--no-deps", str(wheel)], check=True,
                   env=env, cwd=tmp_path)
    script = ("import clipembed, sys; m = clipembed.Model(sys.argv[1]); "
              "v = m.embed_images([sys.argv[2]]); print(clipembed.__file__, v.shape)")
    out = subprocess.run([python, "-c", script, str(FIXTURES / "models" / "tiny"),
                          str(FIXTURES / "images" / "square.jpg")],
                         check=True, env=env, cwd=tmp_path, capture_output=True, text=True).stdout
    assert str(venv) in out and "(1, 16)" in out
    stubs = pathlib.Path(out.split()[0]).parent
    assert (stubs / "py.typed").exists() and (stubs / "_clipembed.pyi").exists()
