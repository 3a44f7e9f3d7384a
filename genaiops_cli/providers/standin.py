"""The one door from the CLI to the local Azure stand-in (the separate `genaiops-sandbox`
distribution). Everything else in genaiops talks to the stand-in only as it would talk to Azure,
through the connection profile (core/sandbox_profile.py); only `genaiops sandbox …` drives its
lifecycle, through here. When the stand-in is not installed, this says how to get it."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

from genaiops_cli.errors import SandboxError

INSTALL_HINT = (
    "the stand-in is its own package: `pip install genaiops-sandbox` "
    "(from a clone of genaiops: `pip install ./sandbox`; ./scripts/quickstart installs it)"
)


def _module(name: str) -> ModuleType:
    try:
        return __import__(f"genaiops_sandbox.{name}", fromlist=[name])
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.split(".")[0] == "genaiops_sandbox":
            raise SandboxError("the local Azure stand-in is not installed", hint=INSTALL_HINT) from exc
        raise


@contextlib.contextmanager
def _translated() -> Iterator[None]:
    """The stand-in raises its own SandboxError (message + hint); the CLI maps ours to exit 5."""
    errors = _module("errors")
    try:
        yield
    except errors.SandboxError as exc:
        raise SandboxError(exc.message, hint=exc.hint, code=exc.code) from exc


def up(state_dir: Path, retry_after: int | None = None) -> Any:
    with _translated():
        return _module("control").up(state_dir, retry_after=retry_after)


def status(state_dir: Path) -> dict[str, Any]:
    with _translated():
        return _module("control").status(state_dir)


def env(state_dir: Path) -> Any:
    with _translated():
        return _module("control").env(state_dir)


def down(state_dir: Path) -> Any:
    with _translated():
        return _module("control").down(state_dir)


def reset(state_dir: Path) -> None:
    with _translated():
        _module("control").reset(state_dir)


def ensure_base_image(docker_host: str, cache_dir: Path, name: str) -> str:
    with _translated():
        return _module("baseimage").ensure_base_image(docker_host, cache_dir, name=name)


def record_base_image(state_dir: Path, name: str) -> None:
    with _translated():
        _module("control").record_base_image(state_dir, name)
