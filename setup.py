"""Builds the `clipembed` extension with the project's CMake build (see pyproject.toml).

CLIPEMBED_CMAKE_BUILD_DIR names a CMake build directory to reuse (e.g. `build`, where `make`
built the library); otherwise a fresh one is configured under build/pip.
"""

import os
import pathlib
import shutil
import subprocess
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = pathlib.Path(__file__).resolve().parent


class CMakeBuild(build_ext):
    """Runs CMake for the extension target and copies the module where setuptools expects it."""

    def build_extension(self, ext):
        build_dir = pathlib.Path(os.environ.get("CLIPEMBED_CMAKE_BUILD_DIR", ROOT / "build" / "pip"))
        if not build_dir.is_absolute():
            build_dir = ROOT / build_dir
        if not (build_dir / "CMakeCache.txt").exists():
            subprocess.run(
                ["cmake", "-S", str(ROOT), "-B", str(build_dir), "-DCMAKE_BUILD_TYPE=Release",
                 "-DCLIPEMBED_BUILD_TESTS=OFF", "-DCLIPEMBED_BUILD_BENCH=OFF",
                 f"-DPython3_EXECUTABLE={sys.executable}"],
                check=True)
        jobs = str(os.cpu_count() or 1)
        subprocess.run(["cmake", "--build", str(build_dir), "--target", "clipembed_python", "-j", jobs],
                       check=True)
        built = next((build_dir / "python" / "clipembed").glob("_clipembed*.so"))
        target = pathlib.Path(self.get_ext_fullpath(ext.name))
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(built, target)


setup(ext_modules=[Extension("clipembed._clipembed", sources=[])], cmdclass={"build_ext": CMakeBuild})
