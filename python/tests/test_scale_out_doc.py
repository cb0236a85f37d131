"""Runs every block of docs/scale-out.md: the Slurm array script and merge, the Kubernetes Indexed
Job's command for each index, the Dask example, and the serve Deployment's container against its
probes. /models and /data are pointed at test directories; manifests are checked field by field
(no cluster is reachable here)."""

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import numpy as np
import pytest

from conftest import CLI, FIXTURES, GOOD_IMAGES, ROOT, image

yaml = pytest.importorskip("yaml")

MODEL = FIXTURES / "models" / "tiny"
BLOCKS = dict(
    (m.group(2), m.group(3))
    for m in re.finditer(r"```(\w+) ([\w-]+)\n(.*?)```", (ROOT / "docs" / "scale-out.md").read_text(), re.S))


@pytest.fixture()
def data(tmp_path):
    """/data with images in two directories (and one bad file), and out/."""
    for i, name in enumerate(GOOD_IMAGES + ["truncated.jpg"]):
        sub = tmp_path / "images" / ("a" if i % 2 else "b")
        sub.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(image(name), sub / f"{i:02d}-{name}")
    (tmp_path / "out").mkdir()
    return tmp_path


def localize(text, data):
    return text.replace("/models/clip-vit-base-patch32", str(MODEL)).replace("/data", str(data))


def shell_env(**extra):
    env = dict(os.environ, PATH=f"{CLI.parent}:{os.environ['PATH']}")
    env.update({k: str(v) for k, v in extra.items()})
    return env


def unsharded(data):
    out = data / "whole.npy"
    subprocess.run([str(CLI), "embed", "-q", "--model", str(MODEL), "--recursive",
                    str(data / "images"), "--output", str(out)])
    return out


def assert_same_files(a, b):
    for suffix in ["", ".paths.txt", ".errors.jsonl"]:
        assert open(f"{a}{suffix}", "rb").read() == open(f"{b}{suffix}", "rb").read(), suffix


def test_slurm_array_and_merge(data):
    script = localize(BLOCKS["slurm-array"], data)
    array = re.search(r"#SBATCH --array=0-(\d+)", script)
    count = int(array.group(1)) + 1
    for k in range(count):
        subprocess.run(["bash", "-c", script], check=True,
                       env=shell_env(SLURM_ARRAY_TASK_ID=k, SLURM_ARRAY_TASK_COUNT=count,
                                     SLURM_CPUS_PER_TASK=1))
    subprocess.run(["bash", "-c", localize(BLOCKS["slurm-merge"], data)], check=True, env=shell_env())
    assert_same_files(data / "embeddings.npy", unsharded(data))


def test_kubernetes_indexed_job(data):
    job = yaml.safe_load(BLOCKS["k8s-indexed-job"])
    assert job["apiVersion"] == "batch/v1" and job["kind"] == "Job"
    spec = job["spec"]
    assert spec["completionMode"] == "Indexed"
    assert spec["template"]["spec"]["restartPolicy"] == "Never"
    (container,) = spec["template"]["spec"]["containers"]
    volumes = {v["name"] for v in spec["template"]["spec"]["volumes"]}
    assert {m["name"] for m in container["volumeMounts"]} <= volumes
    command = container["command"] + container["args"]
    assert command[:2] == ["/bin/sh", "-c"] and len(command) == 3
    assert f'/{spec["completions"]}"' in command[2]  # --shard "${JOB_COMPLETION_INDEX}/N"
    for index in range(spec["completions"]):
        subprocess.run(command[:2] + [localize(command[2], data)], check=True,
                       env=shell_env(JOB_COMPLETION_INDEX=index))
    subprocess.run([str(CLI), "merge", "-q", str(data / "out"), "--output",
                    str(data / "embeddings.npy")], check=True)
    assert_same_files(data / "embeddings.npy", unsharded(data))


def test_dask_example(data):
    script = localize(BLOCKS["dask-example"], data)
    out = subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, text=True,
                         env=shell_env(), cwd=data).stdout
    assert re.search(r"^\d+ rows, 1 failures, \d+ partitions$", out, re.M), out
    listing = data / "list.txt"
    import glob

    paths = sorted(glob.glob(str(data / "images" / "**" / "*.jpg"), recursive=True))
    listing.write_text("".join(p + "\n" for p in paths))
    subprocess.run([str(CLI), "embed", "-q", "--model", str(MODEL), "--normalize", "--files-from",
                    str(listing), "--output", str(data / "whole.npy")])
    subprocess.run([str(CLI), "merge", "-q", str(data / "dask-out"), "--output",
                    str(data / "merged.npy")], check=True)
    assert_same_files(data / "merged.npy", data / "whole.npy")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def status(url):
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except OSError:
        return None


def test_kubernetes_serve_deployment_and_service(data):
    deployment, service = yaml.safe_load_all(BLOCKS["k8s-serve"])
    assert deployment["kind"] == "Deployment" and service["kind"] == "Service"
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"] == labels
    assert service["spec"]["selector"] == labels
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert all(p["targetPort"] in ports for p in service["spec"]["ports"])
    args = [localize(a, data) for a in container["args"]]
    port = free_port()
    args[args.index("--port") + 1] = str(port)
    args[args.index("--host") + 1] = "127.0.0.1"
    assert int(container["args"][container["args"].index("--port") + 1]) == ports["http"]
    server = subprocess.Popen([str(CLI)] + args, stderr=subprocess.DEVNULL)
    try:
        probes = {kind: container[kind]["httpGet"]["path"] for kind in ("readinessProbe", "livenessProbe")}
        deadline = time.monotonic() + 30
        while status(f"http://127.0.0.1:{port}{probes['readinessProbe']}") != 200:
            assert time.monotonic() < deadline and server.poll() is None
            time.sleep(0.05)
        assert status(f"http://127.0.0.1:{port}{probes['livenessProbe']}") == 200
    finally:
        server.terminate()
        assert server.wait(timeout=30) == 0
