"""`genaiops pipeline`: CI/CD pipelines as code (init) and the CI identity's sign-in (credentials)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console as RichConsole

from genaiops_cli.context import app_context

pipeline_app = typer.Typer(
    help="Generate CI/CD pipelines from the manifest and set up the CI identity's sign-in.",
    no_args_is_help=True,
)


class Provider(StrEnum):
    github = "github"
    azure_pipelines = "azure-pipelines"


def register(app: typer.Typer) -> None:
    app.add_typer(pipeline_app, name="pipeline")


@pipeline_app.command(
    "init",
    help="Write PR, main and release pipelines (build once, promote by digest, gates fail the job).",
)
def init(
    ctx: typer.Context,
    provider: Annotated[Provider, typer.Option("--provider", help="github or azure-pipelines.")],
    force: Annotated[bool, typer.Option("--force", help="Overwrite existing pipeline files.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the files; write nothing.")] = False,
    directory: Annotated[
        Path | None,  # noqa: UP007
        typer.Option("--dir", help="Repository root (default: the git work tree holding the manifest)."),
    ] = None,
) -> None:
    from genaiops_cli import __version__
    from genaiops_cli.core import pipelines

    actx = app_context(ctx)
    manifest = actx.manifest()
    root = (directory or pipelines.repository_root(manifest.path)).resolve()
    plan = pipelines.plan_pipelines(manifest, root)
    files = pipelines.render_pipelines(provider.value, plan, __version__)
    sandboxed = [n for n in plan.chain if manifest.environments[n].cloud == "sandbox"]
    result: dict = {
        "provider": provider.value,
        "root": str(root),
        "chain": plan.chain,
        "dry_run": dry_run,
        "files": [f.path for f in files],
    }
    if sandboxed:
        result["warnings"] = [
            f"environments {', '.join(sandboxed)} use cloud: sandbox; the generated pipelines sign in to "
            "Azure: set cloud: azure (and the AZURE_* variables, docs/ci.md) before relying on them"
        ]
    if dry_run:
        result["contents"] = {f.path: f.text for f in files}
    else:
        written = pipelines.write_pipelines(root, files, force)
        result["overwritten"] = written.overwritten

    def render(out: RichConsole) -> None:
        if dry_run:
            for f in files:
                out.print(f"# ---- {f.path}", markup=False)
                out.print(f.text, markup=False, end="")
            return
        out.print(f"[green]✓[/green] wrote {len(files)} {provider.value} pipeline files in {root}")
        for f in files:
            out.print(f"  {f.path}", markup=False)
        out.print(f"  chain: {' → '.join(plan.chain)}", markup=False)
        out.print("next: the one-time set-up in docs/ci.md (identity, environments, approvals)")

    for warning in result.get("warnings", []):
        actx.console.warn(warning)
    actx.emit(result, render)
