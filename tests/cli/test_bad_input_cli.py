"""The bad inputs of issue 14, through the real CLI process: each exits 2 or 3 within 2 s and
200 MB (measured on the child itself with wait4), with file, line, field path and hint — and the
untrusted-manifest cases send nothing to the target."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.cli.helpers import REPO

MAX_SECONDS = 2.0  # CPU
MAX_WALL_SECONDS = 30.0  # generous: a loaded CI machine; a FIFO read would block forever
MAX_RSS_MB = 200


# Linux keeps a process's peak RSS across exec, and subprocess starts children with vfork: a CLI
# spawned straight from pytest would report pytest's own peak (hundreds of MB late in a run). A
# small isolated interpreter forks the CLI instead and hands back the CLI's own rusage.
_SPAWN_AND_MEASURE = """
import json, os, sys
pid = os.fork()
if pid == 0:
    os.execv(sys.argv[2], sys.argv[2:])
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as out:
    json.dump([usage.ru_utime + usage.ru_stime, usage.ru_maxrss], out)
sys.exit(os.waitstatus_to_exitcode(status))
"""


def measured(cwd: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, dict, float, float]:
    """Exit code, JSON envelope, CPU seconds (user + system: the work done, unaffected by other
    processes competing for the 2 cores) and peak RSS (MB) of one CLI run; a hang fails on wall time."""
    full_env = {**os.environ, "NO_COLOR": "1", **(env or {})}
    usage_file = cwd.parent / "cli-usage.json"
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-I", "-S", "-c", _SPAWN_AND_MEASURE, str(usage_file)]
        + [sys.executable, "-m", "genaiops_cli", "-o", "json", *args],
        cwd=cwd,
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    out, _ = proc.communicate()  # the child exits on its own; a hang would fail the test's timeout
    assert time.monotonic() - started < MAX_WALL_SECONDS, "the CLI took too long: a hang?"
    cpu_seconds, maxrss_kb = json.loads(usage_file.read_text())
    return proc.returncode, json.loads(out), cpu_seconds, maxrss_kb / 1024


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    shutil.copytree(REPO / "templates" / "agent", root)
    return root


def replace(root: Path, old: str, new: str) -> None:
    f = root / "genaiops.yaml"
    text = f.read_text()
    assert old in text
    f.write_text(text.replace(old, new, 1))


def fifo_manifest(root: Path) -> list[str]:
    os.mkfifo(root / "pipe.yaml")
    return ["-f", "pipe.yaml", "validate"]


def fifo_dataset(root: Path) -> list[str]:
    (root / "data/eval.jsonl").unlink()
    os.mkfifo(root / "data/eval.jsonl")
    return ["validate"]


def symlinked_dataset(root: Path) -> list[str]:
    (root / "data/eval.jsonl").unlink()
    (root / "data/eval.jsonl").symlink_to("/etc/passwd")
    return ["validate"]


def dotdot_probes(root: Path) -> list[str]:
    replace(root, "probes: data/safety.jsonl", "probes: ../../../../etc/passwd")
    return ["validate"]


def header_crlf(root: Path) -> list[str]:
    replace(
        root,
        "request: {method: GET, path: /healthz}",
        'request: {method: GET, path: /healthz, headers: {X-A: "1\\r\\nX-Injected: 1"}}',
    )
    return ["validate"]


def bad_jsonpath(root: Path) -> list[str]:
    replace(root, '"$.answer": {contains:', '"$.answer[": {contains:')
    return ["validate"]


def metadata_resolve(root: Path) -> list[str]:
    text = (root / "genaiops.yaml").read_text()
    marker = "    strategy: direct" if "    strategy: direct" in text else "    cloud: sandbox"
    replace(root, marker, marker + "\n    resolve: {'*.example.test': '169.254.169.254:80'}")
    return ["validate"]


def alias_bomb(root: Path) -> list[str]:
    long = "x" * 60_000
    lines = ["version: 1", f"a: &a {long}", "b: &b [" + ", ".join(["*a"] * 100) + "]"]
    lines += [f"c{i}: [" + ", ".join(["*b"] * 100) + "]" for i in range(3)]  # 1.8 GB if expanded
    (root / "bomb.yaml").write_text("\n".join(lines) + "\n")
    return ["-f", "bomb.yaml", "validate"]


CASES: dict[str, tuple[Callable[[Path], list[str]], int, str]] = {
    "-f names a FIFO": (fifo_manifest, 3, "FIFO"),
    "dataset is a FIFO": (fifo_dataset, 3, "FIFO"),
    "dataset symlinked to /etc/passwd": (symlinked_dataset, 3, "outside the project"),
    "probes under ../": (dotdot_probes, 3, "outside the project"),
    "smoke header with CR/LF": (header_crlf, 3, "control character"),
    "malformed JSONPath": (bad_jsonpath, 3, "cannot read from"),
    "resolve to the metadata address": (metadata_resolve, 3, "link-local"),
    "alias amplification with long strings": (alias_bomb, 3, "MiB of text"),
}


@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
def test_bad_input_refused_quickly_and_small(project: Path, case: tuple) -> None:
    prepare, expected_code, fragment = case
    args = prepare(project)
    code, doc, seconds, rss_mb = measured(project, *args)
    assert code == expected_code, doc
    error = doc["error"]
    assert fragment in error["message"], error
    assert error["hint"]
    issue = error["details"]["issues"][0]
    assert issue["file"]
    assert seconds < MAX_SECONDS, f"{seconds:.2f}s"
    assert rss_mb < MAX_RSS_MB, f"{rss_mb:.0f} MB"


def test_path_and_line_are_named(project: Path) -> None:
    symlinked_dataset(project)
    _, doc, _, _ = measured(project, "validate")
    issue = doc["error"]["details"]["issues"][0]
    assert issue["path"] == "evaluations.quality.dataset" and issue["line"] == 45


def test_outside_files_opt_in(project: Path) -> None:
    symlinked_dataset(project)
    code, doc, _, _ = measured(project, "validate", env={"GENAIOPS_ALLOW_OUTSIDE_PROJECT": "1"})
    assert code == 0, doc


def absolute_dataset(root: Path) -> list[str]:
    replace(root, "dataset: data/eval.jsonl", "dataset: /etc/hosts.jsonl")
    return ["validate"]


def test_an_absolute_path_outside_the_project_is_refused(project: Path) -> None:
    code, doc, seconds, rss_mb = measured(project, *absolute_dataset(project))
    assert code == 3 and "outside the project" in doc["error"]["message"], doc
    assert seconds < MAX_SECONDS and rss_mb < MAX_RSS_MB


# usage errors: exit 2 before any network call (no stand-in: reaching for it would be exit 5),
# within the same CPU and memory bounds
USAGE = {
    "smoke --url at the metadata address": ("smoke", "-e", "dev", "--url", "http://169.254.169.254/"),
    "eval --url at a link-local IPv6 address": ("eval", "-e", "dev", "--url", "https://[fe80::1]/"),
    "eval --resolve to the metadata address": (
        "eval",
        "-e",
        "dev",
        "--url",
        "https://agent.example.test",
        "--resolve",
        "agent.example.test=169.254.169.254:443",
    ),
    "unknown smoke label": ("smoke", "-e", "dev", "--label", "purple"),
    "negative promote timeout": ("-y", "promote", "--to", "staging", "--timeout", "-1"),
    "promote without --yes, non-interactive": ("promote", "--to", "staging"),
}


@pytest.mark.parametrize("args", list(USAGE.values()), ids=list(USAGE))
def test_usage_errors_exit_2_before_the_network_quickly_and_small(
    project: Path, tmp_path: Path, args: tuple[str, ...]
) -> None:
    code, doc, seconds, rss_mb = measured(
        project, *args, env={"GENAIOPS_SANDBOX_DIR": str(tmp_path / "none")}
    )
    assert code == 2, doc
    assert doc["error"]["hint"]
    assert seconds < MAX_SECONDS, f"{seconds:.2f}s"
    assert rss_mb < MAX_RSS_MB, f"{rss_mb:.0f} MB"
