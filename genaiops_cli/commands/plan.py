"""`genaiops plan --env DST [--from SRC]`: what a promotion would change, changing nothing;
`--infra`: what provisioning would change (ARM what-if)."""

from __future__ import annotations

from typing import Annotated

import typer

from genaiops_cli.commands._options import EnvOption
from genaiops_cli.commands.promote import FromOption, render_plan, source_env
from genaiops_cli.context import app_context


def register(app: typer.Typer) -> None:
    app.command(
        "plan",
        help="Show what promoting into an environment would change (digests, revisions, traffic, gates).",
    )(plan)


def plan(
    ctx: typer.Context,
    env: EnvOption = None,
    from_: FromOption = None,
    release: Annotated[str | None, typer.Option("--release", help="Plan this release id.")] = None,
    infra: Annotated[
        bool, typer.Option("--infra", help="Plan the environment's infrastructure instead (ARM what-if).")
    ] = False,
) -> None:
    from genaiops_cli.core import promote as core

    actx = app_context(ctx)
    dst_name = actx.require_env(env)
    if infra:
        from genaiops_cli.commands.provision import provision

        provision(ctx, env=dst_name, what_if=True, yes=False, template=None, parameters=None, timeout=1800)
        return
    manifest = actx.manifest()
    src_name = source_env(actx, manifest, dst_name, from_)
    result = core.plan(manifest, actx.environment(src_name), actx.environment(dst_name), release)
    actx.emit(result, lambda out: render_plan(out, result))
