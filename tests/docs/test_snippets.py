"""Runs every code block of README.md and docs/*.md as written, in document order, in one sandbox.

A block's info string is its language, then optional words: `no-run` marks a block that cannot run
here (it needs the internet, or it is `make test` itself), and any other word names the block for
the test that runs it (docs/scale-out.md's blocks, run by python/tests/test_scale_out_doc.py, which
must name it). A block without a language is output or a diagram. Everything else runs:

- sh / bash: one bash script per block, every command must exit 0 unless the line says
  `# exit status N`; `curl` fails on an answer that is an `{"error": ...}` object; a `clipembed serve` line runs in the
  background until /ready answers, and is stopped at the end of the block.
- python: a script; a block importing a package Debian lacks (the OpenAI SDK, LangChain) is skipped
  with that package's name.
- js: node, with the npm packages of tests/js (skipped when npm could not install them).
- cpp: the lines after the #includes become main()'s body, built with the pkg-config line of an
  installed copy of this build.

Only paths and ports are substituted: /path/to/, /srv/models/ and /models/ become a models folder of
the sandbox (clip-vit-base-patch32 there is the tiny CLIP fixture), port 8080 a free port. Repo ids
resolve from a Hugging Face cache in the sandbox (HF_HOME) that holds the same fixture. Client blocks
that talk to localhost:8080 without starting a server get one, serving that folder's model.
"""

import os
import pathlib
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

ROOT = pathlib.Path(os.environ.get("CLIPEMBED_SOURCE_DIR", pathlib.Path(__file__).resolve().parents[2]))
BUILD = pathlib.Path(os.environ.get("CLIPEMBED_BUILD_DIR", ROOT / "build"))
CLI = pathlib.Path(os.environ.get("CLIPEMBED_CLI", BUILD / "src" / "clipembed"))
FIXTURES = ROOT / "tests" / "fixtures"
NODE_MODULES = ROOT / "tests" / "js" / "node_modules"
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
RUNNERS = {"sh", "bash", "python", "js", "cpp"}
REPO_ID = "openai/clip-vit-base-patch32"
MODEL_NAME = "clip-vit-base-patch32"


def blocks():
    """(document, first line, info words, text) of every fenced block."""
    found = []
    for doc in DOCUMENTS:
        lines = doc.read_text().splitlines()
        i = 0
        while i < len(lines):
            if lines[i].startswith("```"):
                info = lines[i][3:].split()
                start = i + 1
                i += 1
                while not lines[i].startswith("```"):
                    i += 1
                found.append((doc, start, info, "\n".join(lines[start:i]) + "\n"))
            i += 1
    return found


BLOCKS = blocks()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Sandbox:
    """A working directory that looks like the repository's root to the snippets (build/src,
    examples, tests) plus the files they name (cat.jpg, photos/, captions.txt, ...)."""

    def __init__(self, path):
        self.path = path
        self.port = free_port()
        (path / "build").mkdir()
        (path / "build" / "src").symlink_to(CLI.parent)
        (path / "build" / "python").symlink_to(BUILD / "python")
        for name in ["examples", "tests"]:
            (path / name).symlink_to(ROOT / name)
        # The Python package's sources, so that `pip install .` here builds it (reusing this build).
        for name in ["pyproject.toml", "setup.py", "setup.cfg", "README.md"]:
            shutil.copyfile(ROOT / name, path / name)
        shutil.copytree(ROOT / "python" / "clipembed", path / "python" / "clipembed")
        images = FIXTURES / "images"
        for name, source in [("cat.jpg", "square.jpg"), ("dog.png", "palette.png"), ("a.jpg", "hd.jpg"),
                             ("b.png", "gray.png"), ("c.webp", "lossy.webp"), ("broken.jpg", "truncated.jpg"),
                             ("photos/beach.jpg", "progressive.jpg"), ("photos/sub/cat.jpg", "square.jpg"),
                             ("more-images/tall.png", "tall.png"), ("more-images/plain.bmp", "plain.bmp")]:
            (path / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(images / source, path / name)
        (path / "captions.txt").write_text("a photo of a cat\na red car\n")
        (path / "queries.jsonl").write_text('{"text": "a red car"}\n{"image": "cat.jpg"}\n')
        model = FIXTURES / "models" / "tiny-clip"
        (path / "models").mkdir()
        (path / "models" / MODEL_NAME).symlink_to(model)
        # A Hugging Face cache holding the fixture under the repo id, as `clipembed download` leaves it.
        repo = path / "hf" / "hub" / ("models--" + REPO_ID.replace("/", "--"))
        snapshot = repo / "snapshots" / "0000000000000000000000000000000000000000"
        snapshot.mkdir(parents=True)
        (repo / "refs").mkdir()
        (repo / "refs" / "main").write_text(snapshot.name)
        for f in model.iterdir():
            (snapshot / f.name).symlink_to(f)
        subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(path / "venv")],
                       check=True)
        self.prefix = None

    def env(self):
        return dict(os.environ, PATH=f"{self.path / 'venv' / 'bin'}:{os.environ['PATH']}",
                    HF_HOME=str(self.path / "hf"), CLIPEMBED_PORT=str(self.port),
                    CLIPEMBED_CMAKE_BUILD_DIR=str(BUILD), PIP_NO_INDEX="1", PYTHONPATH="")

    def localize(self, text):
        models = f"{self.path / 'models'}/"
        text = text.replace("/path/to/", models).replace("/srv/models/", models)
        text = re.sub(r"(?<![\w.])/models/", models, text)
        return text.replace("8080", str(self.port))

    def run(self, args, **kwargs):
        return subprocess.run(args, cwd=self.path, env=self.env(), capture_output=True, text=True,
                              timeout=300, **kwargs)

    def serve(self):
        """A server for client blocks: the models folder's model on the sandbox's port."""
        server = subprocess.Popen([str(CLI), "serve", "--model", str(self.path / "models" / MODEL_NAME)],
                                  cwd=self.path, env=self.env(), stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/ready", timeout=1)
                return server
            except OSError:
                time.sleep(0.1)
        server.kill()
        pytest.fail("the server for the client block did not become ready")

    def installed_prefix(self):
        if self.prefix is None:
            self.prefix = self.path / "prefix"
            subprocess.run(["cmake", "--install", str(BUILD), "--prefix", str(self.prefix)],
                           check=True, capture_output=True)
        return self.prefix


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    return Sandbox(tmp_path_factory.mktemp("docs"))


SHELL_PRELUDE = r"""
set -o pipefail
trap 'echo "snippet line $((LINENO - PRELUDE_LINES)) failed (exit $?): $BASH_COMMAND" >&2; exit 1' ERR
stop_servers() {
  local running
  running=$(jobs -p)
  if [[ -n $running ]]; then kill $running 2>/dev/null || true; wait || true; fi
}
trap stop_servers EXIT
curl() {
  local out rc
  out=$(command curl "$@") && rc=0 || rc=$?
  printf '%s\n' "$out"
  if ((rc != 0)) || [[ $out =~ ^\{[[:space:]]*\"error\" ]]; then
    echo "curl $*: exit $rc, answer ${out:0:300}" >&2
    return 1
  fi
}
wait_ready() {
  for _ in $(seq 300); do
    command curl -sf "localhost:$CLIPEMBED_PORT/ready" >/dev/null && return 0
    sleep 0.1
  done
  echo "the server did not become ready" >&2
  return 1
}
"""


def shell_script(text):
    """The block as a script: expected exit statuses checked, servers started in the background."""
    out = []
    for line in text.splitlines():
        code = line.split(" #", 1)[0].rstrip()
        expected = re.search(r"# exit status (\d+)", line)
        if expected:
            out.append(f"if {code}; then rc=0; else rc=$?; fi; "
                       f"((rc == {expected.group(1)})) || {{ echo 'exit $rc, not {expected.group(1)}: {code}' >&2; exit 1; }}")
        elif re.match(r"\S*clipembed serve\b", code):
            out.append(code if code.endswith("&") else code + " &")
            out.append("wait_ready")
        else:
            out.append(line)
    prelude = SHELL_PRELUDE.replace("PRELUDE_LINES", str(SHELL_PRELUDE.count("\n") - 1))
    return prelude + "\n".join(out) + "\n"


def missing_python_packages(text):
    import importlib.util

    names = re.findall(r"^\s*(?:from|import)\s+([A-Za-z_]\w*)", text, re.M)
    return [n for n in dict.fromkeys(names) if importlib.util.find_spec(n) is None]


def missing_npm_packages(text):
    names = re.findall(r"""from\s+["']([^"'.][^"']*)["']""", text)
    return [n for n in names if not (NODE_MODULES / n).exists()]


def cpp_program(text):
    includes = [l for l in text.splitlines() if l.startswith("#include")]
    body = [l for l in text.splitlines() if not l.startswith("#include")]
    includes = includes or ["#include <clipembed/clipembed.h>"]
    return "\n".join(includes) + "\nint main() {\n" + "\n".join(body) + "\n  return 0;\n}\n"


def block_id(block):
    doc, line, info, _ = block
    return f"{doc.name}:{line}:{info[0] if info else 'text'}"


@pytest.mark.parametrize("block", BLOCKS, ids=[block_id(b) for b in BLOCKS])
def test_block_runs_as_written(block, sandbox):
    doc, line, info, text = block
    if not info:
        pytest.skip("output or a diagram, not code")
    language, words = info[0], info[1:]
    if "no-run" in words:
        pytest.skip("marked no-run in the document")
    if words:
        tests = list((ROOT / "python" / "tests").glob("test_*.py")) + list((ROOT / "tests").rglob("*.py"))
        assert any(words[0] in t.read_text() for t in tests), f"no test runs the block named {words[0]}"
        pytest.skip(f"named {words[0]}: run by the test that looks it up by that name")
    assert language in RUNNERS, f"{doc.name}:{line}: no way to run a {language} block (mark it no-run?)"
    text = sandbox.localize(text)
    server = None
    if "localhost:" in text and "clipembed serve" not in text and language != "sh":
        server = sandbox.serve()
    try:
        result = run_block(sandbox, language, text, f"{doc.stem}_{line}")
    finally:
        if server:
            server.terminate()
            server.wait(timeout=30)
    assert result.returncode == 0, (f"{doc.name}:{line} ({language}) failed:\n{result.stdout[-3000:]}\n"
                                    f"{result.stderr[-3000:]}")


def run_block(sandbox, language, text, name):
    if language in ("sh", "bash"):
        return sandbox.run(["bash", "-c", shell_script(text)])
    if language == "python":
        missing = missing_python_packages(text)
        if missing:
            pytest.skip(f"needs the Python package(s) {', '.join(missing)}, which Debian does not ship")
        script = sandbox.path / f"{name}.py"
        script.write_text(text)
        return sandbox.run(["python3", str(script)])
    if language == "js":
        if shutil.which("node") is None:
            pytest.skip("needs node")
        missing = missing_npm_packages(text)
        if missing:
            pytest.skip(f"needs the npm package(s) {', '.join(missing)} (scripts/setup installs them "
                        "into tests/js when npm is reachable)")
        modules = sandbox.path / "node_modules"
        if not modules.exists():
            modules.symlink_to(NODE_MODULES)
        script = sandbox.path / f"{name}.mjs"
        script.write_text(text)
        return sandbox.run(["node", str(script)])
    source = sandbox.path / f"{name}.cc"
    source.write_text(cpp_program(text))
    pkgconfig = sandbox.installed_prefix() / "lib" / "pkgconfig"
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "clipembed"], check=True, text=True,
                           capture_output=True, env=dict(os.environ, PKG_CONFIG_PATH=str(pkgconfig))).stdout
    built = sandbox.run(["c++", "-std=c++20", "-O0", str(source), "-o", str(source.with_suffix("")),
                         *flags.split()])
    if built.returncode != 0:
        return built
    return sandbox.run([str(source.with_suffix(""))])
