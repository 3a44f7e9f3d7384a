"""`genaiops pipeline`: CI/CD pipelines as code (init) and the CI identity's sign-in (credentials)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

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
        Path | None,
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


@pipeline_app.command(
    "credentials",
    help="Create the environment's CI identity: OIDC federated credential and least roles (or --what-if).",
)
def credentials(
    ctx: typer.Context,
    env: Annotated[str | None, typer.Option("--env", "-e", help="Environment name.")] = None,
    repo: Annotated[
        str | None,
        typer.Option("--repo", help="GitHub repository OWNER/NAME whose workflows sign in."),
    ] = None,
    what_if: Annotated[bool, typer.Option("--what-if", help="Only show what would change.")] = False,
    emit: Annotated[
        Path | None,
        typer.Option("--emit", help="Write the ARM templates and parameters here instead of deploying."),
    ] = None,
    issuer: Annotated[
        str | None,
        typer.Option("--issuer", help="OIDC issuer (default: GitHub Actions'); e.g. an Azure DevOps one."),
    ] = None,
    subject: Annotated[
        str | None,
        typer.Option("--subject", help="OIDC subject (default: repo:OWNER/NAME:environment:ENV)."),
    ] = None,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds to wait for each deployment.")] = 600,
) -> None:
    from genaiops_cli.core import ci_identity, provisioning
    from genaiops_cli.errors import UsageError

    actx = app_context(ctx)
    manifest = actx.manifest()
    env_name = actx.require_env(env)
    source = manifest.environment(env_name).config.promote_from
    outputs = {}
    for name in filter(None, (env_name, source)):
        cached = provisioning.load_cached(manifest.base_dir, name)
        if cached is not None:
            outputs[name] = cached.outputs
    from genaiops_cli.core.targets import environment_target

    plan = ci_identity.plan_credentials(
        manifest,
        env_name,
        repo,
        issuer,
        subject,
        outputs,
        # Deploying: the subscription the target really uses; emitting: the manifest's, no sign-in.
        subscription_of=None if emit else (lambda name: environment_target(manifest, name).subscription_id),
    )
    result: dict = plan.summary()

    if emit is not None:
        written = _emit_templates(emit, plan)
        result["emitted"] = written
        actx.emit(result, lambda out: _render_credentials(out, plan, written=written))
        return

    if not what_if and not actx.assume_yes:
        raise UsageError(
            "pipeline credentials creates an identity and role assignments and needs confirmation",
            hint="pass --yes (or -y) to create them, --what-if to preview, --emit DIR for templates",
        )
    runs = _run_deployments(manifest, plan, what_if, timeout, result)
    result["what_if" if what_if else "deployed"] = runs
    actx.emit(
        result, lambda out: _render_credentials(out, plan, runs=runs, variables=result.get("variables"))
    )


def _emit_templates(emit: Path, plan: Any) -> list[str]:
    """Write each deployment's ARM template and parameters file; return their paths."""
    import json

    emit.mkdir(parents=True, exist_ok=True)
    written = []
    for d in plan.deployments:
        template, parameters = emit / f"{d.name}.json", emit / f"{d.name}.parameters.json"
        template.write_text(json.dumps(d.template, indent=2) + "\n")
        parameters.write_text(
            json.dumps(
                {
                    "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentParameters.json#",
                    "contentVersion": "1.0.0.0",
                    "parameters": d.parameters,
                },
                indent=2,
            )
            + "\n"
        )
        written += [str(template), str(parameters)]
    return written


def _run_deployments(
    manifest: Any, plan: Any, what_if: bool, timeout: float, result: dict[str, Any]
) -> list[dict[str, Any]]:
    """What-if or deploy each of the plan's deployments; the CI variables go into `result`."""
    from genaiops_cli.core import provisioning
    from genaiops_cli.core.targets import environment_target
    from genaiops_cli.wiring import arm_deployments

    deployments = arm_deployments()
    runs = []
    for d in plan.deployments:
        target = environment_target(manifest, d.environment)
        if what_if:
            changes = provisioning.what_if_rows(
                deployments.what_if(target, d.resource_group, d.name, d.template, d.parameters, timeout)
            )
            runs.append({"deployment": d.name, "resource_group": d.resource_group, "changes": changes})
            continue
        final = deployments.deploy(
            target, d.resource_group, d.name, d.template, d.parameters, timeout=timeout
        )
        props = final.get("properties") or {}
        values = {k: v.get("value") for k, v in (props.get("outputs") or {}).items()}
        runs.append({"deployment": d.name, "resource_group": d.resource_group, "outputs": values})
        if "clientId" in values:
            result["variables"] = {
                "AZURE_CLIENT_ID": values["clientId"],
                "AZURE_TENANT_ID": values.get("tenantId"),
                "AZURE_SUBSCRIPTION_ID": target.subscription_id,
            }
    return runs


def _render_credentials(
    out: RichConsole,
    plan: object,
    written: list[str] | None = None,
    runs: list[dict] | None = None,
    variables: dict | None = None,
) -> None:
    from rich.table import Table

    p = plan  # CredentialPlan; typed loosely so this module imports nothing from core at load
    out.print(f"CI identity [bold]{p.ci_identity}[/bold] in {p.resource_group}")  # type: ignore[attr-defined]
    out.print(f"  trusts {p.issuer} subject {p.subject}", markup=False)  # type: ignore[attr-defined]
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("role", "scope", "why"):
        table.add_column(column)
    for g in p.grants:  # type: ignore[attr-defined]
        table.add_row(g.role, g.scope, g.why)
    out.print(table)
    for run in runs or []:
        for change in run.get("changes", []):
            if change["change"] == "Ignore":  # resources of the group this template does not name
                continue
            out.print(f"  {change['change']:<9} {change['resource']}", markup=False)
    for path in written or []:
        out.print(f"  wrote {path}", markup=False)
    if variables:
        out.print("set these as variables (not secrets) of the CI environment:")
        for key, value in variables.items():
            out.print(f"  {key}={value}", markup=False)
