"""`genaiops init`: copy a project template out of the installed package."""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources.abc import Traversable
from pathlib import Path

from genaiops_cli.errors import UsageError

SKIP = {"__pycache__", ".genaiops"}


def templates_root() -> Traversable:
    """`genaiops_cli/templates` inside a wheel; the repository's `templates/` in a checkout."""
    from importlib.resources import files

    packaged = files("genaiops_cli").joinpath("templates")
    if packaged.is_dir():
        return packaged
    return files("genaiops_cli").joinpath("..", "templates")  # editable install / source tree


def available_templates() -> list[str]:
    root = templates_root()
    return sorted(p.name for p in root.iterdir() if p.is_dir() and p.joinpath("genaiops.yaml").is_file())


def _walk(node: Traversable, prefix: Path) -> list[tuple[Path, Traversable]]:
    out: list[tuple[Path, Traversable]] = []
    for child in sorted(node.iterdir(), key=lambda c: c.name):
        if child.name in SKIP or child.name.endswith(".pyc"):
            continue
        if child.is_dir():
            out += _walk(child, prefix / child.name)
        else:
            out.append((prefix / child.name, child))
    return out


@dataclass
class ScaffoldResult:
    directory: Path
    template: str
    written: list[str]
    overwritten: list[str]


def scaffold(directory: Path, template: str, force: bool) -> ScaffoldResult:
    names = available_templates()
    if template not in names:
        raise UsageError(f"unknown template {template!r}", hint=f"templates: {', '.join(names)}")
    files = _walk(templates_root().joinpath(template), Path())
    existing = [str(rel) for rel, _ in files if (directory / rel).exists()]
    if existing and not force:
        shown = ", ".join(existing[:5]) + (" …" if len(existing) > 5 else "")
        raise UsageError(
            f"{len(existing)} file(s) already exist in {directory}: {shown}",
            hint="choose an empty directory, or pass --force to overwrite them",
        )
    for rel, source in files:
        target = directory / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(source.read_bytes())
    return ScaffoldResult(directory, template, [str(rel) for rel, _ in files], existing)


PUBLIC_BASE_DEFAULT = "${BASE_IMAGE:-python:3.12-slim}"


def adopt_local_base_image(directory: Path) -> str | None:
    """When the local stand-in has assembled an offline Python base image, make it the new project's
    default build base (in genaiops.yaml, where it shows; BASE_IMAGE still overrides it), so the first
    build works on machines that cannot reach a public registry. The image it names, else None."""
    from genaiops_cli.core.sandbox_profile import SandboxProfile

    try:
        profile = SandboxProfile.load()
    except (OSError, ValueError, TypeError):
        return None
    manifest = directory / "genaiops.yaml"
    if profile is None or not profile.base_image or not manifest.is_file():
        return None
    text = manifest.read_text(encoding="utf-8")
    if PUBLIC_BASE_DEFAULT not in text:
        return None
    local = PUBLIC_BASE_DEFAULT.replace("python:3.12-slim", profile.base_image)
    note = "  # the local stand-in's offline image; python:3.12-slim elsewhere"
    manifest.write_text(text.replace(f'"{PUBLIC_BASE_DEFAULT}"', f'"{local}"{note}', 1), encoding="utf-8")
    return profile.base_image
