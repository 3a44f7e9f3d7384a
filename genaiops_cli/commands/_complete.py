"""Shell completion values read from the manifest: environment, service and evaluation names.

Runs on every <TAB>, so it stays light: it parses the YAML and reads three mappings' keys, with no
validation, no interpolation and no SDK. A manifest that does not load offers nothing, silently."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer


def _manifest_arg(ctx: typer.Context) -> str | None:
    """`-f PATH` as typed so far: after the subcommand, or before it."""
    from genaiops_cli.commands._tree import given_after

    value = given_after(ctx, "manifest") or (ctx.find_root().params or {}).get("manifest")
    return str(value) if value else None


def _manifest_keys(ctx: typer.Context, args: list[str], section: str) -> list[str]:
    try:
        import yaml

        from genaiops_cli.core.manifest.loader import find_manifest

        path = find_manifest(Path(explicit) if (explicit := _manifest_arg(ctx)) else None)
        doc: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
        names = doc.get(section) if isinstance(doc, dict) else None
        return [str(k) for k in names] if isinstance(names, dict) else []
    except Exception:
        return []


def _matching(names: list[str], incomplete: str) -> list[str]:
    return [n for n in names if n.startswith(incomplete)]


def complete_environment(ctx: typer.Context, args: list[str], incomplete: str) -> list[str]:
    return _matching(_manifest_keys(ctx, args, "environments"), incomplete)


def complete_service(ctx: typer.Context, args: list[str], incomplete: str) -> list[str]:
    return _matching(_manifest_keys(ctx, args, "services"), incomplete)


def complete_evaluation(ctx: typer.Context, args: list[str], incomplete: str) -> list[str]:
    return _matching(_manifest_keys(ctx, args, "evaluations"), incomplete)
