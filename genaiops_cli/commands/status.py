"""`genaiops status`: revisions, traffic, labels and URLs of each service in one environment."""

from __future__ import annotations

import typer
from rich.console import Console as RichConsole

from genaiops_cli.commands._options import EnvOption, ServicesArg
from genaiops_cli.console import Col, fitted_table
from genaiops_cli.context import app_context

ROLE_STYLE = {"live": "bold green", "staged": "cyan", "previous": "yellow"}
# Narrow terminals lose the creation time first, then health, label and digest; never the revision.
COLUMNS = [
    Col("revision", copy=True),
    Col("role"),
    Col("traffic", justify="right"),
    Col("label", drop=2),
    Col("state", drop=3),
    Col("image", copy=True, drop=1),
    Col("created", copy=True, drop=4),
]


def register(app: typer.Typer) -> None:
    app.command("status", help="What runs where: revisions, digests, health, traffic, labels, URLs.")(status)


def status(ctx: typer.Context, services: ServicesArg = None, env: EnvOption = None) -> None:
    from genaiops_cli.core.status import status_report

    actx = app_context(ctx)
    # nothing status shows needs the services' connections or telemetry wired (an ARM read)
    opened = actx.environment(env, wire_services=False)
    names = opened.select(list(services or []))
    env_name = opened.name
    result = status_report(opened, names)
    report, drift = result["services"], result

    def render(out: RichConsole) -> None:
        for svc in report:
            if not svc["deployed"]:
                out.print(f"[bold]{svc['service']}[/bold]: not deployed in {env_name}")
                continue
            out.print(f"[bold]{svc['service']}[/bold] ({svc['app']})")
            if svc.get("url"):
                out.print(f"  {svc['url']}")  # a line of its own: a URL is copied whole
            rows = []
            for r in svc["revisions"]:
                state = "inactive" if not r["active"] else f"{r['running_state']}/{r['health_state']}"
                image = str(r["image"] or "")
                image = image.split("@")[-1][:19] if "@" in image else image
                role = r["role"]
                rows.append(
                    [
                        r["name"],
                        f"[{ROLE_STYLE.get(role, '')}]{role}[/]" if role else "",
                        f"{r['traffic']}%",
                        r["label"] or "",
                        state,
                        image,
                        str(r["created"] or "")[:19],
                    ]
                )
            table = fitted_table(out.width, COLUMNS, rows)
            out.print(table)
        for d in drift.get("drift") or []:
            what = d["record"].replace("_", "-") + (f" of {d['service']}" if d.get("service") else "")
            out.print(f"[yellow]drift:[/yellow] {what} says {d['says']}, not what runs")
        if drift.get("drift"):
            out.print(f"  `genaiops repair -e {env_name}` makes the records name what runs")

    actx.emit(result, render)
