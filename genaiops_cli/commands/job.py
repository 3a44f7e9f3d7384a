"""`genaiops job run|status|logs`: executions of `host: containerapp-job` services (the logic is
core/job_runs.py; this module parses and renders)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.console import Console as RichConsole
from rich.table import Table

from genaiops_cli.commands._complete import complete_service
from genaiops_cli.commands._options import EnvOption
from genaiops_cli.context import app_context

job_app = typer.Typer(
    help="Run Container Apps jobs (host: containerapp-job) and read their executions and logs.",
    no_args_is_help=True,
)
ServiceArg = Annotated[
    str, typer.Argument(help="The job service (host: containerapp-job).", autocompletion=complete_service)
]
ExecutionArg = Annotated[str | None, typer.Argument(help="An execution name (default: all / the newest).")]


def register(app: typer.Typer) -> None:
    app.add_typer(job_app, name="job")


@job_app.command(
    "run", help="Start an execution; with --wait, exit with its result (0 only if it succeeded)."
)
def run(
    ctx: typer.Context,
    service: ServiceArg,
    env: EnvOption = None,
    wait: Annotated[bool, typer.Option("--wait", help="Wait for the execution to end.")] = False,
    timeout: Annotated[
        float, typer.Option("--timeout", help="Seconds to wait with --wait (the execution keeps running).")
    ] = 1800,
) -> None:
    from genaiops_cli.core import job_runs

    actx = app_context(ctx)
    opened = actx.environment(env)
    started = job_runs.start(opened, service)
    actx.console.info(f"{service}: started execution {started['execution']}")
    result: dict[str, Any] = dict(started)
    if wait:
        result["result"] = job_runs.wait(
            opened,
            service,
            started["execution"],
            timeout,
            lambda row: actx.console.info(f"{service}: {row['name']} {row['status']}"),
        )

    def render(out: RichConsole) -> None:
        if "result" in result:
            out.print(f"[green]✓[/green] {service}: execution {started['execution']} succeeded")
        else:
            out.print(f"{service}: execution {started['execution']} started")

    actx.emit(result, render)


@job_app.command("status", help="Executions of a job (newest first) with status, start and end.")
def status(
    ctx: typer.Context, service: ServiceArg, execution: ExecutionArg = None, env: EnvOption = None
) -> None:
    from genaiops_cli.core import job_runs

    actx = app_context(ctx)
    result = job_runs.status(actx.environment(env), service, execution)

    def render(out: RichConsole) -> None:
        schedule = f" schedule {result['schedule']} (UTC)" if result.get("schedule") else ""
        out.print(f"{result['job']}: {result['trigger']}{schedule}, image {result['image']}")
        table = Table(box=None, pad_edge=False, header_style="bold")
        for column in ("execution", "status", "start", "end"):
            table.add_column(column)
        for row in result["executions"]:
            table.add_row(row["name"], row["status"] or "—", row["start"] or "—", row["end"] or "—")
        out.print(table if result["executions"] else "no executions yet")

    actx.emit(result, render)


@job_app.command("logs", help="Console output of an execution (default: the newest), per replica.")
def logs(
    ctx: typer.Context,
    service: ServiceArg,
    execution: ExecutionArg = None,
    env: EnvOption = None,
    tail: Annotated[
        int, typer.Option("--tail", min=1, max=300, help="Lines per container (as az: ≤ 300).")
    ] = 300,
) -> None:
    from genaiops_cli.core import job_runs

    actx = app_context(ctx)
    result = job_runs.logs(actx.environment(env), service, execution, tail)

    def render(out: RichConsole) -> None:
        many = len(result["replicas"]) > 1
        for part in result["replicas"]:
            prefix = f"[{part['replica']}] " if many else ""
            for line in part["lines"]:
                out.print(prefix + line["text"], markup=False, highlight=False)
        if not result["replicas"]:
            out.print(f"execution {result['execution']} has no replica output yet")

    actx.emit(result, render)
