"""`genaiops validate`: every manifest check, then a short summary."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.console import Console as RichConsole
from rich.table import Table

from genaiops_cli.commands._complete import complete_environment
from genaiops_cli.context import app_context


def register(app: typer.Typer) -> None:
    app.command("validate", help="Check the manifest (schema, interpolation, references) and summarise it.")(
        validate
    )


def validate(
    ctx: typer.Context,
    env: Annotated[
        str | None,
        typer.Option(
            "--env", "-e", help="Also resolve this environment.", autocompletion=complete_environment
        ),
    ] = None,
) -> None:
    actx = app_context(ctx)
    manifest = actx.manifest()
    env_name = env or actx.env_name
    envs = [env_name] if env_name else list(manifest.environments)
    for name in envs:
        manifest.environment(name)  # resolving merges and validates the per-environment overrides
    result: dict[str, Any] = {"manifest": str(manifest.path), "valid": True, **manifest.summary()}
    if env_name:
        result["environment"] = env_name

    def render(out: RichConsole) -> None:
        out.print(f"[green]✓[/green] {manifest.path} is valid")
        table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
        table.add_column("kind")
        table.add_column("names")
        for kind in ("services", "evaluations", "environments"):
            names = result.get(kind) or []
            if isinstance(names, dict):
                names = list(names)
            table.add_row(kind, ", ".join(str(n) for n in names) or "—")
        out.print(table)

    actx.emit(result, render)
