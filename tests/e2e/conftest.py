"""The local Azure stand-in for end-to-end tests, started exactly as users start it
(`control.up`), with every ARM request and response checked against the official specs."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import (  # same module instance: tests/ is a package
    _SESSION_DIR,
    azure_specs,
    require_engine,
)

REPO = Path(__file__).resolve().parents[2]
BASE_IMAGE = "genaiops/python-base:3.11"
VIOLATIONS = _SESSION_DIR / "spec-violations.jsonl"


@dataclass
class Sandbox:
    state_dir: Path
    profile: object
    violations: Path


@pytest.fixture(scope="session")
def sandbox(shared_engine: str | None) -> Iterator[Sandbox]:
    from genaiops_sandbox import control
    from genaiops_sandbox.baseimage import ensure_base_image

    require_engine(shared_engine)
    state_dir = _SESSION_DIR / "sandbox"
    os.environ["GENAIOPS_SANDBOX_DIR"] = str(state_dir)
    if azure_specs().found:  # without the specs, only the validation is skipped (said once per run)
        os.environ["GENAIOPS_SANDBOX_VALIDATE"] = str(VIOLATIONS)
    profile = control.up(state_dir, retry_after=0)
    ensure_base_image(profile.docker_host, Path(os.environ.get("GENAIOPS_CACHE_DIR", _SESSION_DIR / "cache")))
    yield Sandbox(state_dir, profile, VIOLATIONS)
    # reset, not down: on a shared engine only reset removes the revision containers the run started
    control.reset(state_dir)


@pytest.fixture(autouse=True)
def no_spec_violations(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail any e2e test during which the stand-in saw a request or response the specs reject."""
    before = VIOLATIONS.stat().st_size if VIOLATIONS.exists() else 0
    yield
    if VIOLATIONS.exists() and VIOLATIONS.stat().st_size > before:
        with VIOLATIONS.open() as fh:
            fh.seek(before)
            new = [json.loads(line) for line in fh if line.strip()]
        pytest.fail(f"spec violations during this test: {json.dumps(new, indent=1)[:4000]}")


@dataclass
class Project:
    root: Path
    sandbox: Sandbox

    def run(self, *args: str, env: dict[str, str] | None = None, timeout: float = 300):
        from tests.cli.helpers import run_cli

        return run_cli(*args, cwd=self.root, env={"BASE_IMAGE": BASE_IMAGE, **(env or {})}, timeout=timeout)

    def edit(self, relative: str, old: str, new: str) -> None:
        path = self.root / relative
        text = path.read_text()
        assert old in text, f"{old!r} not in {relative}"
        path.write_text(text.replace(old, new))


def make_project(sandbox: Sandbox, tmp: Path, environments: tuple[str, ...]) -> Project:
    from genaiops_cli.core.cloud import target_for
    from tests.e2e.infra import ensure_environment

    root = tmp / "project"
    shutil.copytree(REPO / "templates" / "agent", root)
    target = target_for("sandbox", None)
    for env in environments:
        ensure_environment(target, f"rg-{env}", "eastus2", f"cr{env}", f"cae-{env}")
    return Project(root, sandbox)


def own_project(sandbox: Sandbox, tmp: Path, environments: tuple[str, ...], prefix: str = "int") -> Project:
    """The template project on resource groups and registries of its own (`rg-<prefix>-dev`,
    `cr<prefix>dev`…), so what a module pushes, promotes and runs never meets another module's apps in
    the session's stand-in."""
    from genaiops_cli.core.cloud import target_for
    from tests.e2e.infra import ensure_environment

    project = make_project(sandbox, tmp, ())
    target = target_for("sandbox", None)
    for env in environments:
        for old, new in (
            (f"rg-{env}", f"rg-{prefix}-{env}"),
            (f"cr{env}", f"cr{prefix}{env}"),
            (f"cae-{env}", f"cae-{prefix}-{env}"),
        ):
            project.edit("genaiops.yaml", f" {old}\n", f" {new}\n")
        ensure_environment(target, f"rg-{prefix}-{env}", "eastus2", f"cr{prefix}{env}", f"cae-{prefix}-{env}")
    return project
