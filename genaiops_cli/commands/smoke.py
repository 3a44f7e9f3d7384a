"""`genaiops smoke`: run the manifest's smoke checks against a side of each service."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console as RichConsole
from rich.table import Table

from genaiops_cli.commands._options import EnvOption, ServicesArg, select_services
from genaiops_cli.context import AppContext
from genaiops_cli.errors import UsageError

SMOKE_LABELS = ("live", "staged", "blue", "green")

if TYPE_CHECKING:
    from genaiops_cli.core.environment import Environment


def register(app: typer.Typer) -> None:
    app.command(
        "smoke", help="Run smoke checks against the live app URL or a label URL (exit 8 on failure)."
    )(smoke)


def run_smoke(
    actx: AppContext,
    opened: Environment,
    names: list[str],
    label: str = "live",
    url: str | None = None,
    warmup: float = 60,
) -> tuple[dict[str, Any], dict]:
    """(JSON-able report, CheckResults per service)."""
    from genaiops_cli.core import smoke as core

    target = opened.target
    results: dict[str, list[core.CheckResult]] = {}
    with opened.http.client(target.resolve, target.ca_bundle, 30) as client:
        for name in names:
            checks = opened.resolved.services[name].smoke
            if not checks:
                results[name] = []
                continue
            endpoint = None if url else opened.host(name).endpoint(name, label)
            base = url or endpoint.url  # type: ignore[union-attr]
            actx.console.info(f"smoke: {name} → {base}")
            results[name] = [core.run_check(client, base, c, warmup, endpoint=endpoint) for c in checks]
    passed = all(r.passed for rs in results.values() for r in rs)
    report = {
        "passed": passed,
        "label": label,
        "services": {svc: [r.to_dict() for r in rs] for svc, rs in results.items()},
    }
    return report, results


def smoke_table(results: dict) -> Table:
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("service", "check", "result", "status", "latency", "why"):
        table.add_column(column)
    for svc, rs in results.items():
        for r in rs:
            table.add_row(
                svc,
                r.name,
                "[green]pass[/green]" if r.passed else "[red]FAIL[/red]",
                str(r.status or "—"),
                f"{r.latency_ms:.0f} ms" if r.latency_ms is not None else "—",
                "; ".join(r.failures),
            )
    return table


def smoke(
    ctx: typer.Context,
    services: ServicesArg = None,
    env: EnvOption = None,
    label: Annotated[str, typer.Option("--label", help="live | staged | blue | green")] = "live",
    url: Annotated[str | None, typer.Option("--url", help="Check this base URL instead.")] = None,
    junit: Annotated[Path | None, typer.Option("--junit", help="Write JUnit XML here.")] = None,
    warmup: Annotated[
        float, typer.Option("--warmup", min=0, help="Seconds to retry while a revision warms up.")
    ] = 60,
) -> None:
    from genaiops_cli.core import smoke as core
    from genaiops_cli.core.ci_annotations import annotate, append_step_summary
    from genaiops_cli.core.manifest.locate import ManifestLocator
    from genaiops_cli.core.netpolicy import check_option_targets
    from genaiops_cli.core.reports import write_junit
    from genaiops_cli.errors import SmokeFailed

    if label not in SMOKE_LABELS:  # a usage error, found before any network call
        raise UsageError(f"unknown label {label!r}", hint=f"one of: {', '.join(SMOKE_LABELS)}")
    check_option_targets({"--url": url})
    actx, opened, names = select_services(ctx, env, services)
    env_name = opened.name
    report, results = run_smoke(actx, opened, names, label=label, url=url, warmup=warmup)
    if junit:
        write_junit(junit, [core.suite(svc, rs) for svc, rs in results.items()])
    append_step_summary(core.markdown(results))
    annotate(core.annotations(results, ManifestLocator.read(actx.manifest().path), env_name))

    def render(out: RichConsole) -> None:
        out.print(smoke_table(results))

    if not report["passed"]:
        if not actx.console.is_json:
            actx.console.err.print(smoke_table(results))
        failed = [f"{svc}/{r.name}" for svc, rs in results.items() for r in rs if not r.passed]
        raise SmokeFailed(
            f"smoke checks failed: {', '.join(failed)}",
            hint="see the failed checks above",
            details={"environment": env_name, **report},
        )
    actx.emit({"environment": env_name, **report}, render)
