"""`genaiops deploy`: put the built images (by digest) on an environment's Container Apps."""

from __future__ import annotations

from typing import Annotated, Any, NamedTuple

import typer
from rich.console import Console as RichConsole

from genaiops_cli.commands._options import (
    BreakLockOption,
    EnvOption,
    ReasonOption,
    ServicesArg,
    TimeoutOption,
    environment_locked,
    override_reason,
)
from genaiops_cli.commands._progress import service_progress
from genaiops_cli.console import Col, fitted_table
from genaiops_cli.context import AppContext, app_context


def register(app: typer.Typer) -> None:
    app.command(
        "deploy", help="Deploy by digest: direct (100 % when healthy) or blue/green (staged at 0 %)."
    )(deploy)


class Selection(NamedTuple):
    actx: AppContext
    manifest: Any
    env_name: str
    env: Any  # the ResolvedEnvironment
    names: list[str]


def select_containerapps(ctx: typer.Context, env: str | None, services: list[str] | None) -> Selection:
    """What every Container Apps command starts from: the environment and the services it acts on."""
    actx = app_context(ctx)
    manifest = actx.manifest()
    env_name = actx.require_env(env)
    resolved = manifest.environment(env_name)
    names = containerapp_services(resolved.services, list(services or []))
    return Selection(actx, manifest, env_name, resolved, names)


def containerapp_services(env_services: dict, names: list[str]) -> list[str]:
    from genaiops_cli.errors import UsageError

    unknown = [n for n in names if n not in env_services]
    if unknown:
        raise UsageError(f"unknown service {', '.join(unknown)}", hint=f"services: {', '.join(env_services)}")
    return [n for n in (names or list(env_services)) if env_services[n].host == "containerapp"]


def deploy(
    ctx: typer.Context,
    services: ServicesArg = None,
    env: EnvOption = None,
    digest: Annotated[
        str | None, typer.Option("--digest", help="Deploy this sha256 digest (one service).")
    ] = None,  # noqa: UP007
    timeout: TimeoutOption = 300,
    break_lock: BreakLockOption = False,
    reason: ReasonOption = None,
) -> None:
    from genaiops_cli.core.deploy import deploy_service
    from genaiops_cli.core.targets import containerapps_host, pinned_image, registry_access
    from genaiops_cli.errors import UsageError

    lock_reason = override_reason(reason, break_lock=break_lock)
    actx, manifest, env_name, resolved, names = select_containerapps(ctx, env, services)
    if digest and len(names) != 1:
        raise UsageError(
            "--digest applies to exactly one service", hint="name the service: deploy SERVICE --digest …"
        )
    registry = registry_access(manifest, env_name)
    host = containerapps_host(manifest, env_name)
    outcomes = []
    with (
        environment_locked(manifest, env_name, "deploy", lock_reason),
        service_progress(actx.console, names) as on_event,
    ):
        for name in names:
            image = pinned_image(manifest, env_name, name, registry, digest)
            outcomes.append(
                deploy_service(
                    host,
                    manifest,
                    resolved,
                    name,
                    image,
                    registry.login_server,
                    registry.target.subscription_id,
                    timeout,
                    on_event,
                )
            )

    def render(out: RichConsole) -> None:
        columns = [Col("service"), Col("revision", copy=True), Col("result"), Col("url")]
        rows = [
            [
                o.service,
                o.revision,
                o.action + (f" ({o.label})" if o.label else ""),
                o.label_url or o.app_url or "",
            ]
            for o in outcomes
        ]
        out.print(fitted_table(out.width, columns, rows))

    actx.emit({"environment": env_name, "deployments": [o.to_dict() for o in outcomes]}, render)
