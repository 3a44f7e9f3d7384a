"""Shared fixtures: ONE Docker engine for the whole run, and the local Azure stand-in.

The engine is a reachable one (DOCKER_HOST / the default socket) or, on a fresh CI machine, a
private dockerd the sandbox code starts — the same path `genaiops sandbox up` takes for users.
Every module that needs an engine reuses it through GENAIOPS_TEST_DOCKER_HOST."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

_SESSION_DIR = Path(tempfile.mkdtemp(prefix="gops-test-"))
# genaiops' caches (manifests, tokens, registry lookups, help screens, no-op stamps) are the run's own:
# the suite's temporary projects and stand-ins filled the developer's ~/.cache/genaiops with tokens of
# registries that no longer exist and evicted the manifests of their real projects. Set by hand, the
# variable is kept.
os.environ.setdefault("GENAIOPS_CACHE_DIR", str(_SESSION_DIR / "genaiops-cache"))


@pytest.fixture(scope="session", autouse=True)
def shared_engine() -> Iterator[str | None]:
    """Start (or find) the engine once; tests that need none still run when Docker is absent."""
    from genaiops_sandbox.engine import ensure_engine, stop_engine
    from genaiops_sandbox.errors import SandboxError

    engine_dir = _SESSION_DIR / "engine-owner"
    host = os.environ.get("GENAIOPS_TEST_DOCKER_HOST")
    started = False
    if not host:
        try:
            info = ensure_engine(engine_dir)
        except SandboxError:
            info = None
        if info is not None:
            host, started = info.docker_host, info.started_by_us
            os.environ["GENAIOPS_TEST_DOCKER_HOST"] = host
    if host:
        os.environ["DOCKER_HOST"] = host
    yield host
    if started:
        stop_engine(engine_dir)
    shutil.rmtree(_SESSION_DIR, ignore_errors=True)


def require_engine(host: str | None) -> str:
    if not host:
        pytest.fail("no Docker engine: install docker.io (root) or start Docker; ./scripts/test does it")
    return host


# ------------------------------------------------------------------ the official Azure REST specs
# Found once per run (sandbox/genaiops_sandbox/specs_source.py: $GENAIOPS_AZURE_SPECS, ../shared, a
# verified cache or download). Without them only spec-validation assertions are skipped, and the run
# says so once at the top and once at the end.


def azure_specs():
    from genaiops_sandbox.specs import located

    return located()


def specs_line() -> str:
    where = azure_specs()
    if where.found:
        return f"Azure REST specs: {where.root} (from {where.source}); spec validation on"
    return f"Azure REST specs: not available, spec-validation assertions SKIPPED ({where.reason})"


def require_specs() -> None:
    where = azure_specs()
    if not where.found:
        pytest.skip(f"Azure REST specs not available: {where.reason}")


def maybe_spec_validator():
    if not azure_specs().found:
        return None
    from genaiops_sandbox.specs import SpecValidator

    return SpecValidator()


def pytest_configure(config: pytest.Config) -> None:
    where = azure_specs()
    if where.found:  # stand-ins started by the tests (other processes) validate against the same copy
        os.environ["GENAIOPS_AZURE_SPECS"] = str(where.root)


def pytest_report_header(config: pytest.Config) -> str:
    return specs_line()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not azure_specs().found:
        terminalreporter.write_line(specs_line(), yellow=True)
