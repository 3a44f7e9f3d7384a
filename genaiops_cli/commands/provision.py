"""`genaiops provision`: deploy an environment's infrastructure (ARM template) and keep its outputs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console as RichConsole
from rich.table import Table

from genaiops_cli.commands._options import EnvOption
from genaiops_cli.context import app_context

CHANGE_STYLE = {
    "Create": "green",
    "Modify": "yellow",
    "Delete": "red",
    "NoChange": "dim",
    "Ignore": "dim",
    "Deploy": "cyan",
    "Unsupported": "magenta",
}
MAX_VALUE = 60


def register(app: typer.Typer) -> None:
    app.command(
        "provision",
        help="Provision an environment from its ARM template (what-if first; outputs feed build/deploy).",
    )(provision)


def provision(
    ctx: typer.Context,
    env: EnvOption = None,
    what_if: Annotated[bool, typer.Option("--what-if", help="Only show what would change.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Deploy without asking.")] = False,
    template: Annotated[
        Path | None,
        typer.Option(
            "--template", help="ARM JSON or .bicep template (default: manifest `infra:` or shipped)."
        ),
    ] = None,
    parameters: Annotated[
        Path | None,
        typer.Option("--parameters", help="ARM parameters file (JSON)."),
    ] = None,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds to wait for the deployment.")] = 1800,
) -> None:
    from genaiops_cli.core import provisioning
    from genaiops_cli.core.targets import environment_target
    from genaiops_cli.core.whatif import has_changes, summarize
    from genaiops_cli.errors import UsageError
    from genaiops_cli.wiring import arm_deployments

    actx = app_context(ctx)
    console = actx.console
    manifest = actx.manifest()
    env_name = actx.require_env(env)
    config = manifest.environment(env_name).config
    plan = provisioning.infra_plan(manifest, env_name, template, parameters)
    target = environment_target(manifest, env_name)
    rg = config.resource_group
    deployments = arm_deployments()
    base: dict[str, Any] = {
        "environment": env_name,
        "resource_group": rg,
        "deployment": plan.deployment,
        "template": plan.template_path,
        "parameters": plan.parameter_values(),
    }
    confirm = not (yes or actx.assume_yes)
    if not what_if and confirm and not (console.interactive and not console.is_json):
        raise UsageError(
            "provision changes Azure resources and needs confirmation",
            hint="pass --yes to deploy non-interactively (preview first with --what-if)",
        )
    tags = {"genaiops-app": manifest.name, "genaiops-env": env_name}
    if deployments.ensure_resource_group(target, rg, config.location, tags):
        console.info(f"created resource group [bold]{rg}[/bold] ({config.location})")

    if what_if or confirm:
        result = deployments.what_if(target, rg, plan.deployment, plan.template, plan.parameters)
        changes = provisioning.what_if_rows(result)
        summary = {k: v for k, v in summarize(result).items() if v}
        if what_if:
            actx.emit(
                {**base, "what_if": {"summary": summary, "changes": changes}},
                lambda out: _render_what_if(out, changes, summary),
            )
            return
        _render_what_if(console.err, changes, summary)
        if has_changes(result):
            typer.confirm(f"Deploy these changes to {env_name} ({rg})?", abort=True)

    _deploy_and_report(actx, deployments, target, plan, base, timeout)


def _deploy_and_report(
    actx: Any, deployments: Any, target: Any, plan: Any, base: dict[str, Any], timeout: float
) -> None:
    """Run the ARM deployment, showing each resource as it finishes; cache and emit the outputs."""
    from genaiops_cli.core import provisioning

    console, manifest = actx.console, actx.manifest()
    env_name, rg = base["environment"], base["resource_group"]
    finished: list[dict[str, Any]] = []

    def on_operation(op: dict[str, Any]) -> None:
        row = provisioning.operation_row(op)
        finished.append(row)
        if console.is_json:
            return
        mark = "[green]✓[/green]" if row["state"] == "Succeeded" else "[red]✗[/red]"
        console.info(f"  {mark} {row['resource']} [dim]{row['status']} {row['duration']}[/dim]")

    console.info(f"deploying [bold]{plan.deployment}[/bold] to {rg} …")
    final = deployments.deploy(
        target,
        rg,
        plan.deployment,
        plan.template,
        plan.parameters,
        on_operation=on_operation,
        timeout=timeout,
    )
    props = final.get("properties") or {}
    state = provisioning.ProvisionedState.from_arm_outputs(
        env_name, rg, plan.deployment, props.get("outputs"), str(props.get("timestamp") or "")
    )
    cache = provisioning.save_cached(manifest.base_dir, state)
    result_doc = {
        **base,
        "provisioning_state": props.get("provisioningState"),
        "duration": props.get("duration"),
        "resources": finished,
        "outputs": state.outputs,
        "cache": str(cache),
    }

    def render(out: RichConsole) -> None:
        table = Table(box=None, pad_edge=False, header_style="bold", title=f"{env_name} outputs")
        table.add_column("output")
        table.add_column("value", overflow="fold")
        for key, value in state.outputs.items():
            table.add_row(key, value if isinstance(value, str) else json.dumps(value))
        out.print(table)

    monitor = _monitor_after(actx, env_name)
    if monitor is not None:
        result_doc["monitor"] = monitor
    if monitor is not None and not monitor["ok"]:
        from genaiops_cli.core.after_release import monitor_failure

        raise monitor_failure(env_name, f"provisioning {env_name} ({rg})", monitor, result_doc)
    actx.emit(result_doc, render)


def _monitor_after(actx: Any, env_name: str) -> dict[str, Any] | None:
    """`monitor.apply_on: [provision]`: the environment's alerts and action groups, applied now that
    the resources they watch exist (what-if summary printed first)."""
    from genaiops_cli import wiring
    from genaiops_cli.core.after_release import apply_monitor, summary_line

    manifest = actx.manifest()
    outcome = apply_monitor(
        manifest, env_name, "provision", lambda: wiring.monitor(manifest, env_name), actx.console.info
    )
    if outcome is not None and outcome["ok"]:
        actx.console.info(f"monitor: {summary_line(outcome['summary'])}; applied {outcome['applied']}")
    return outcome


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
    return text if len(text) <= MAX_VALUE else text[: MAX_VALUE - 1] + "…"


def _render_what_if(out: RichConsole, changes: list[dict[str, Any]], summary: dict[str, int]) -> None:
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("change", "resource", "details"):
        table.add_column(column, overflow="fold")
    for change in changes:
        style = CHANGE_STYLE.get(change["change"], "")
        lines = [
            f"{d['path']}: {_short(d.get('before'))} → {_short(d.get('after'))}"
            if d["change"] == "Modify"
            else f"{d['path']}: {d['change'].lower()} {_short(d.get('after', d.get('before')))}"
            for d in change["delta"]
            if d["change"] != "NoEffect"
        ]
        table.add_row(f"[{style}]{change['change']}[/{style}]", change["resource"], "\n".join(lines))
    out.print(table)
    out.print("  ".join(f"{k}: {v}" for k, v in summary.items()) or "no resources")
