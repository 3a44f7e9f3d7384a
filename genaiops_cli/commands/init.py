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
    from genaiops_cli.core.sandbox_profile import SandboxProfile
    from genaiops_cli.core.scaffold import adopt_local_base_image, scaffold

    actx = app_context(ctx)
    result = scaffold(directory.resolve(), template, force)
    base_image = adopt_local_base_image(result.directory)
    steps = next_steps(directory, standin_running=SandboxProfile.load() is not None)

    def render(out: RichConsole) -> None:
        out.print(f"[green]✓[/green] created {len(result.written)} files in {result.directory}")
        if result.overwritten:
            out.print(f"  overwrote: {', '.join(result.overwritten)}")
        if base_image:
            out.print(f"  builds use the stand-in's offline base image {base_image}")
            out.print("  (set in genaiops.yaml; BASE_IMAGE overrides it)")
        out.print("next steps:")
        for step in steps:
            out.print(f"  {step}")

    actx.emit(
        {
            "directory": str(result.directory),
            "template": template,
            "files": result.written,
            "overwritten": result.overwritten,
            "base_image": base_image,
            "next_steps": steps,
        },
        render,
    )


def next_steps(directory: Path, standin_running: bool) -> list[str]:
    """The sample's first release, in the order that works: the environment exists before anything is
    built for it, and a release reaches staging by promotion (README "Using it" has the whole path)."""
    steps = [f"cd {directory}"] if str(directory) != "." else []
    if not standin_running:
        steps.append("genaiops sandbox up                # the local Azure stand-in")
    return steps + [
        "genaiops validate",
        "genaiops provision -e dev -y          # the environment first: registry, identity, Container Apps",
        "genaiops build --push -e dev",
        "genaiops deploy -e dev",
        "genaiops smoke -e dev",
        "genaiops provision -e staging -y && genaiops promote --to staging -y",
    ]
