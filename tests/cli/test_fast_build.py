"""A no-op `build` answered from its stamp (genaiops_cli/fast_build.py): the same bytes the full path
prints, none of typer/rich/click/pydantic/yaml or an SDK imported, and the full path again as soon as
anything the answer rested on changes (context, manifest, environment variable, image, code, git).

Real engine, real images (`FROM scratch`: nothing to pull), the real entry point in a subprocess."""

from __future__ import annotations

import json
import os
import secrets
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import genaiops_cli
from tests.conftest import require_engine

HEAVY = ("typer", "rich", "click", "pydantic", "yaml", "azure", "docker", "httpx", "openai")

# Runs the console entry point and reports which heavy modules the process loaded.
PROBE = """
import json, sys
sys.argv = ["genaiops", *json.loads(sys.argv[1])]
code = 0
try:
    from genaiops_cli.launcher import main
    main()
except SystemExit as exc:
    code = exc.code
finally:
    sys.stdout.flush()
    loaded = sorted({m.split('.')[0] for m in sys.modules} & set(HEAVY_NAMES))
    sys.__stderr__.write("\\0LOADED=" + json.dumps(loaded) + "\\n")
sys.exit(code)
""".replace("HEAVY_NAMES", repr(HEAVY))

MANIFEST = """\
version: 1
name: fastbuild-test
services:
  app:
    build:
      context: app
      args:
        GREETING: "${{FASTBUILD_GREETING:-hello}}"
    repository: {repository}
    host: containerapp
    ingress: {{port: 8080}}
environments:
  dev:
    cloud: sandbox
    subscription: "00000000-0000-0000-0000-000000000000"
    resource_group: rg-dev
    location: eastus2
    registry: crdev
    containerapps_environment: cae-dev
    identity: id-dev
"""

DOCKERFILE = "FROM scratch\nARG GREETING\nLABEL greeting=$GREETING\nCOPY hello.txt /hello.txt\n"


@dataclass
class Run:
    code: int
    out: str
    err: str
    loaded: list[str]

    @property
    def served(self) -> bool:
        """Answered by the fast path: nothing heavy imported."""
        return self.loaded == []

    def builds(self) -> list[dict]:
        return json.loads(self.out)["result"]["builds"]


@dataclass
class Project:
    root: Path
    env: dict[str, str]
    repository: str

    def run(self, *args: str, **env: str) -> Run:
        proc = subprocess.run(
            [sys.executable, "-c", PROBE, json.dumps(list(args))],
            cwd=self.root,
            env={**self.env, **env},
            capture_output=True,
            text=True,
            timeout=120,
        )
        err, _, tail = proc.stderr.rpartition("\0LOADED=")
        return Run(proc.returncode, proc.stdout, err, json.loads(tail))

    def stamped(self, *args: str) -> Run:
        """Build until a full run found everything up to date (and stamped it); that run."""
        first = self.run("build", *args)
        assert first.code == 0, first.err + first.out  # -o json puts the error in stdout
        time.sleep(2.1)  # files written within 2 s are never stamped (the racily-clean rule)
        full = self.run("build", *args)
        assert full.code == 0 and not full.served, full.err
        return full


@pytest.fixture
def project(tmp_path: Path, shared_engine: str | None) -> Iterator[Project]:
    require_engine(shared_engine)
    repository = f"fastbuild-test/app-{secrets.token_hex(4)}"
    root = tmp_path / "project"
    (root / "app").mkdir(parents=True)
    (root / "genaiops.yaml").write_text(MANIFEST.format(repository=repository))
    (root / "app" / "Dockerfile").write_text(DOCKERFILE)
    (root / "app" / "hello.txt").write_text("hello\n")
    env = {
        **os.environ,
        "GENAIOPS_CACHE_DIR": str(tmp_path / "cache"),
        "NO_COLOR": "1",
        "COLUMNS": "120",
    }
    for name in ("GENAIOPS_FAST_BUILD", "GENAIOPS_FAST_BUILD_TRACE", "GENAIOPS_ENV", "GITHUB_ACTIONS"):
        env.pop(name, None)
    yield Project(root, env, repository)
    tags = subprocess.run(
        ["docker", "images", "--format", "{{.Repository}}:{{.Tag}}", repository],
        capture_output=True,
        text=True,
    ).stdout.split()
    if tags:
        subprocess.run(["docker", "rmi", "-f", *tags], capture_output=True)


@pytest.mark.parametrize("output", [[], ["-o", "json"]], ids=["text", "json"])
def test_a_repeated_noop_build_is_served_byte_identical(project: Project, output: list[str]) -> None:
    full = project.stamped(*output)
    served = project.run("build", *output)
    assert served.served, served.err
    assert (served.code, served.out, served.err) == (full.code, full.out, full.err)
    assert "up to date" in served.err
    again = project.run("build", *output, GENAIOPS_FAST_BUILD="0")  # the full path, today
    assert not again.served and (again.code, again.out, again.err) == (served.code, served.out, served.err)
    if output:
        assert [b["status"] for b in served.builds()] == ["up_to_date"]


def _edit_context(project: Project) -> None:
    (project.root / "app" / "hello.txt").write_text("hello again\n")


def _add_context_file(project: Project) -> None:
    (project.root / "app" / "new.txt").write_text("new\n")


def _edit_manifest(project: Project) -> None:
    path = project.root / "genaiops.yaml"
    path.write_text(path.read_text().replace("hello}", "bonjour}"))


def _remove_image(project: Project) -> None:
    tags = subprocess.run(
        ["docker", "images", "--format", "{{.Repository}}:{{.Tag}}", project.repository],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    subprocess.run(["docker", "rmi", "-f", *tags], capture_output=True, check=True)


def _touch_code(project: Project) -> None:
    module = Path(genaiops_cli.__file__).parent / "commands" / "build.py"
    st = module.stat()
    os.utime(module, ns=(st.st_atime_ns, st.st_mtime_ns))  # same times; the ctime moves, as on an edit


@pytest.mark.parametrize(
    ("change", "env", "rebuilt"),
    [
        (_edit_context, {}, True),
        (_add_context_file, {}, True),
        (_edit_manifest, {}, True),
        (None, {"FASTBUILD_GREETING": "hi"}, True),  # a variable the manifest's ${…} reads
        (_remove_image, {}, True),
        (_touch_code, {}, False),
    ],
    ids=["context-file", "new-context-file", "manifest", "env-var", "image-removed", "code"],
)
def test_any_change_takes_the_full_path(project: Project, change, env: dict, rebuilt: bool) -> None:
    project.stamped("-o", "json")
    if change is not None:
        change(project)
    after = project.run("build", "-o", "json", **env)
    assert after.code == 0 and not after.served, after.err
    assert [b["status"] for b in after.builds()] == (["built"] if rebuilt else ["up_to_date"])


def test_git_commit_is_part_of_the_answer(project: Project) -> None:
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "-C", str(project.root)]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "one"], check=True)
    first = project.stamped("-o", "json")
    assert project.run("build", "-o", "json").served
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "two"], check=True)
    after = project.run("build", "-o", "json")
    assert not after.served
    assert after.builds()[0]["git_commit"] != first.builds()[0]["git_commit"]


def test_unusual_options_and_debug_take_the_full_path(project: Project) -> None:
    project.stamped()
    for args in (["build", "--debug"], ["build", "--no-cache"], ["--debug", "build"]):
        assert not project.run(*args).served, args


def test_the_stamp_is_private_and_holds_no_variable_value(project: Project, tmp_path: Path) -> None:
    marker = f"value-{secrets.token_hex(8)}"
    project.env["FASTBUILD_GREETING"] = marker
    project.stamped("-o", "json")
    folder = tmp_path / "cache" / "noop"
    stamps = list(folder.glob("*.json"))
    assert stamps and stat.S_IMODE(folder.stat().st_mode) == 0o700
    for path in stamps:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert marker not in path.read_text()
    assert project.run("build", "-o", "json").served


def test_a_record_another_build_wrote_is_rewritten_as_the_full_path_would(project: Project) -> None:
    """`build` and `build -e ENV` interleaved rewrite the same build record; the fast path writes the
    bytes the full path writes, and only when the rule that keeps a previous digest gives the same."""
    full = project.stamped("-o", "json")
    record = project.root / ".genaiops" / "builds" / "app.json"
    written = record.read_text()
    other = {**json.loads(written), "registry": "crdev.azurecr.io", "image": "crdev.azurecr.io/x:y"}
    record.write_text(json.dumps(other))  # as `build -e dev` leaves it: another registry
    served = project.run("build", "-o", "json")
    assert served.served and served.out == full.out and record.read_text() == written
    record.write_text(json.dumps(other))
    assert project.run("build", "-o", "json", GENAIOPS_FAST_BUILD="0").out == full.out
    assert record.read_text() == written  # what the full path writes over the same record
    record.write_text(json.dumps({**json.loads(written), "digest": "sha256:" + "ab" * 32}))
    after = project.run("build", "-o", "json")  # same hash and registry: the full path keeps this digest
    assert not after.served and after.builds()[0]["digest"] == "sha256:" + "ab" * 32


def test_engine_path_quoting_is_urllibs() -> None:
    from urllib.parse import quote

    from genaiops_cli.fast_build import _quote

    for reference in ("contoso/agent:0123abcd", "127.0.0.1:5000/a/b:c", "x y~z_.-", "ünï/cødé:t"):
        assert _quote(reference) == quote(reference, safe="")


def test_a_record_is_rewritten_only_when_the_full_path_would_write_the_same(tmp_path: Path) -> None:
    from genaiops_cli.fast_build import _records_to_write

    base = {"service": "app", "source_hash": "h1", "repository": "r", "tag": "t", "image": "r:t"}
    stamped = json.dumps({**base, "status": "up_to_date", "registry": None, "digest": None})
    path = str(tmp_path / "app.json")
    assert _records_to_write([[path, stamped]]) == [(path, stamped)]  # missing: written as stamped
    Path(path).write_text("{not json")
    assert _records_to_write([[path, stamped]]) == [(path, stamped)]  # unreadable: as load_record
    Path(path).write_text(stamped)
    assert _records_to_write([[path, stamped]]) == []  # unchanged: nothing to write
    pushed = {**base, "status": "pushed", "registry": None, "digest": "sha256:1", "pushed_at": "now"}
    Path(path).write_text(json.dumps(pushed))
    assert _records_to_write([[path, stamped]]) is None  # the full path would keep that digest
    Path(path).write_text(json.dumps({**pushed, "source_hash": "h0"}))
    assert _records_to_write([[path, stamped]]) == [(path, stamped)]  # another hash: nothing kept
