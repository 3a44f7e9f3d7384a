"""`genaiops sandbox …`: the local Azure stand-in (ARM + ACR over a real registry and Docker engine)."""

from __future__ import annotations

import shlex
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console as RichConsole
from rich.table import Table

from genaiops_cli.context import app_context

sandbox_app = typer.Typer(
    help="Run the local Azure stand-in: try the whole pipeline with no subscription.", no_args_is_help=True
)

StateDir = Annotated[
    Path | None,
    typer.Option("--state-dir", envvar="GENAIOPS_SANDBOX_DIR", help="Where the stand-in keeps its state."),
]


def register(app: typer.Typer) -> None:
    app.add_typer(sandbox_app, name="sandbox")


def _state_dir(explicit: Path | None) -> Path:
    from genaiops_cli.core.sandbox_profile import default_state_dir

    return (explicit or default_state_dir()).resolve()


def _profile_view(profile: Any) -> dict[str, Any]:
    view = asdict(profile)
    view.pop("client_secret_file", None)  # the path is harmless but the CLI never points at secrets
    return view


def _endpoints_table(view: dict[str, Any]) -> Table:
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    for key in ("arm_endpoint", "router", "ca_bundle", "docker_host", "subscription_id", "log_file"):
        if view.get(key):
            table.add_row(key, str(view[key]))
    for pattern, target in (view.get("resolve") or {}).items():
        table.add_row("resolve", f"{pattern} → {target}")
    return table


BASE_IMAGE = "genaiops/python-base:3.11"


def _ensure_base_image(actx: Any, profile: Any, directory: Path) -> str | None:
    """Machines with no public registry get a local Python base image; elsewhere it is optional."""
    from subprocess import SubprocessError

    from docker.errors import DockerException

    from genaiops_cli.errors import GenAIOpsError
    from genaiops_cli.providers import standin

    try:
        standin.ensure_base_image(profile.docker_host, directory / "cache", name=BASE_IMAGE)
        standin.record_base_image(directory, BASE_IMAGE)  # `genaiops init` offers it to new projects
    except (GenAIOpsError, OSError, SubprocessError, DockerException) as exc:
        actx.console.warn(f"could not assemble {BASE_IMAGE} ({exc}); builds need BASE_IMAGE from a registry")
        return None
    return BASE_IMAGE


@sandbox_app.command("up", help="Start the stand-in in the background (idempotent) and print its endpoints.")
def up(
    ctx: typer.Context,
    state_dir: StateDir = None,
    retry_after: Annotated[
        int | None,
        typer.Option("--retry-after", help="Retry-After seconds on long-running operations (default 0)."),
    ] = None,
    base_image: Annotated[
        bool,
        typer.Option(
            "--base-image/--no-base-image",
            help=f"Assemble the offline Python base image ({BASE_IMAGE}) when missing.",
        ),
    ] = True,
) -> None:
    from genaiops_cli.providers import standin

    actx = app_context(ctx)
    directory = _state_dir(state_dir)
    actx.console.info(f"starting the stand-in in {directory} …")
    profile = standin.up(directory, retry_after=retry_after)
    view = _profile_view(profile)
    if base_image:
        view["base_image"] = _ensure_base_image(actx, profile, directory)

    def render(out: RichConsole) -> None:
        out.print("[green]✓[/green] sandbox is up")
        out.print(_endpoints_table(view))

    actx.emit(view, render)


@sandbox_app.command("status", help="Is the stand-in running? Which processes, endpoints and log file.")
def status(ctx: typer.Context, state_dir: StateDir = None) -> None:
    from genaiops_cli.providers import standin

    actx = app_context(ctx)
    report = standin.status(_state_dir(state_dir))

    def render(out: RichConsole) -> None:
        state = "[green]running[/green]" if report.get("running") else "[yellow]stopped[/yellow]"
        out.print(f"sandbox: {state}")
        table = Table(show_header=False, box=None, pad_edge=False)
        table.add_column(style="bold")
        table.add_column()
        for key, value in report.items():
            if key != "running":
                table.add_row(key, str(value))
        out.print(table)

    actx.emit(report, render)


@sandbox_app.command("env", help="The connection profile (endpoints, CA bundle, resolve map).")
def env(
    ctx: typer.Context,
    state_dir: StateDir = None,
    export: Annotated[
        bool, typer.Option("--export", help="Print shell `export` lines instead of a table.")
    ] = False,
) -> None:
    from genaiops_cli.providers import standin

    actx = app_context(ctx)
    directory = _state_dir(state_dir)
    profile = standin.env(directory)
    view = _profile_view(profile)

    def render(out: RichConsole) -> None:
        if not export:
            out.print(_endpoints_table(view))
            return
        lines = {
            "GENAIOPS_SANDBOX_DIR": str(directory),
            "AZURE_TENANT_ID": profile.tenant_id,
            "AZURE_CLIENT_ID": profile.client_id,
            "AZURE_AUTHORITY_HOST": profile.authority_host,
            "AZURE_SUBSCRIPTION_ID": profile.subscription_id,
            "DOCKER_HOST": profile.docker_host,
        }
        for name, value in lines.items():
            out.file.write(f"export {name}={shlex.quote(value)}\n")
        # The secret is read from its file by the shell, so it never appears in this output.
        out.file.write(f'export AZURE_CLIENT_SECRET="$(cat {shlex.quote(profile.client_secret_file)})"\n')

    actx.emit(view, render)


@sandbox_app.command("down", help="Stop what `sandbox up` started (state is kept).")
def down(ctx: typer.Context, state_dir: StateDir = None) -> None:
    from genaiops_cli.providers import standin

    actx = app_context(ctx)
    stopped = standin.down(_state_dir(state_dir))
    actx.emit({"stopped": stopped}, lambda out: out.print("[green]✓[/green] sandbox is down"))


@sandbox_app.command("reset", help="Stop the stand-in and wipe its state (resources, registries, tokens).")
def reset(ctx: typer.Context, state_dir: StateDir = None) -> None:
    from genaiops_cli.providers import standin

    actx = app_context(ctx)
    directory = _state_dir(state_dir)
    if not actx.assume_yes and actx.console.interactive:
        typer.confirm(f"Wipe all sandbox state in {directory}?", abort=True)
    standin.reset(directory)
    actx.emit({"reset": str(directory)}, lambda out: out.print(f"[green]✓[/green] wiped {directory}"))
