"""`genaiops init`: scaffold a project (the sample support agent) with a ready manifest."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console as RichConsole

from genaiops_cli.context import app_context


def register(app: typer.Typer) -> None:
    app.command("init", help="Create a project from a template (default: the sample support agent).")(init)


def init(
    ctx: typer.Context,
    directory: Annotated[Path, typer.Argument(help="Where to create the project.")] = Path("."),
    template: Annotated[str, typer.Option("--template", "-t", help="Template name.")] = "agent",
    force: Annotated[bool, typer.Option("--force", help="Overwrite existing files.")] = False,
) -> None:
    from genaiops_cli.core.scaffold import scaffold

    actx = app_context(ctx)
    result = scaffold(directory.resolve(), template, force)

    def render(out: RichConsole) -> None:
        out.print(f"[green]✓[/green] created {len(result.written)} files in {result.directory}")
        if result.overwritten:
            out.print(f"  overwrote: {', '.join(result.overwritten)}")
        out.print("next steps:")
        cd = f"cd {directory} && " if str(directory) != "." else ""
        for step in (
            f"{cd}genaiops validate",
            "genaiops sandbox up",
            "genaiops build --push -e dev",
            "genaiops deploy -e dev",
            "genaiops smoke -e dev",
        ):
            out.print(f"  {step}")

    actx.emit(
        {
            "directory": str(result.directory),
            "template": template,
            "files": result.written,
            "overwritten": result.overwritten,
        },
        render,
    )
