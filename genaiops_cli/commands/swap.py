"""`genaiops swap`: check the staged revision (smoke, or the environment's gates), then move all
traffic to it — in one write, or through the canary steps with `strategy: canary` — then the
environment's post-release watch (unless --no-watch, recorded)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from genaiops_cli.commands._options import (
    BreakLockOption,
    EnvOption,
    ForceOption,
    NoWatchOption,
    ReasonOption,
    ServicesArg,
    environment_locked,
    override_reason,
    select_services,
)
from genaiops_cli.commands._progress import service_progress

if TYPE_CHECKING:
    from genaiops_cli.context import AppContext
    from genaiops_cli.core.environment import Environment
    from genaiops_cli.core.ports import EventFn


def register(app: typer.Typer) -> None:
    app.command(
        "swap",
        help="Blue/green swap: staged revision takes 100 % after its checks pass "
        "(through the canary steps with strategy: canary).",
    )(swap)


def swap(
    ctx: typer.Context,
    services: ServicesArg = None,
    env: EnvOption = None,
    skip_smoke: Annotated[
        bool,
        typer.Option(
            "--skip-smoke",
            help="Swap without smoke checks (needs --reason; in a gated environment: as --force).",
        ),
    ] = False,
    break_lock: BreakLockOption = False,
    force: ForceOption = False,
    reason: ReasonOption = None,
    no_watch: NoWatchOption = False,
) -> None:
    from genaiops_cli import wiring
    from genaiops_cli.commands.promote import render_after
    from genaiops_cli.core import after_release, side_doors
    from genaiops_cli.errors import GenAIOpsError

    why = override_reason(reason, force=force, skip_smoke=skip_smoke, break_lock=break_lock)
    lock_reason = why if break_lock else None
    actx, opened, names = select_services(ctx, env, services)
    names = swappable(opened, names, explicit=bool(services))
    # --force: straight to 100 % without the canary steps (in a gated environment: without its gates)
    canary = not force and opened.config.strategy == "canary"
    with environment_locked(opened, "swap", lock_reason) as held:
        if side_doors.is_gated(opened.resolved):
            result = _gated_swap(actx, opened, names, why if (force or skip_smoke) else None, canary)
        else:
            result = _smoke_then_swap(actx, opened, names, why if skip_smoke else None, canary)
        follow = wiring.follow(opened, not no_watch, 300)
        release = result.get("release") if result.get("release") != "unreleased" else None
        with service_progress(actx.console, names) as on_event:
            try:
                watched = after_release.watch(opened, names, release, follow, on_event, held.renew)
            except GenAIOpsError as exc:  # rolled back or interrupted: the swap itself happened
                exc.details = {**(exc.details or {}), "swap": result}
                raise
        if watched is not None:
            result["watch"] = watched

    def render(out: Any) -> None:
        for s in result["swaps"]:
            out.print(
                f"[green]✓[/green] {s['service']}: {s['live']} is live (previous {s['previous']} kept warm)"
            )
        render_after(out, result)

    actx.emit(result, render)


def _canary(opened: Environment, names: list[str], gates: list[dict[str, Any]], on_event: EventFn) -> Any:
    from genaiops_cli import wiring
    from genaiops_cli.core import side_doors

    return side_doors.canary_before_swap(opened, names, wiring.delivery_ports, gates, on_event)


def _plan(opened: Environment, names: list[str], after_canary: bool, on_event: EventFn) -> Any:
    """The swap of every service; after a canary that passed, a failure also sends the services
    that did not move back to stable (their traffic is still split)."""
    from genaiops_cli import wiring
    from genaiops_cli.core import traffic_moves

    move = traffic_moves.plan_swap(opened, names)
    if after_canary:
        move.unsplit = lambda n: wiring.delivery_ports(opened, n)[0].abort(n, on_event)
    return move


def _smoke_then_swap(
    actx: AppContext,
    opened: Environment,
    names: list[str],
    skip_smoke_reason: str | None,
    canary: bool,
) -> dict[str, Any]:
    from genaiops_cli.commands.smoke import run_smoke, smoke_table
    from genaiops_cli.core import side_doors, traffic_moves
    from genaiops_cli.errors import SmokeFailed

    if len(names) > 1:  # before anything runs: never half the services swapped
        side_doors.require_staged(opened, names)
    smoke = None
    if skip_smoke_reason:
        actx.console.warn(f"skipping smoke checks: {skip_smoke_reason}")
    else:
        smoke, results = run_smoke(actx, opened, names, label="staged")
        if not smoke["passed"]:
            if not actx.console.is_json:
                actx.console.err.print(smoke_table(results))
            raise SmokeFailed(
                "smoke checks failed against the staged revision; traffic not moved",
                hint="fix the release and deploy again; live traffic is unchanged",
                details=smoke,
            )
    with service_progress(actx.console, names) as on_event:
        gate = _canary(opened, names, [], on_event) if canary else None
        # all or none: a failure after some services swapped moves those back (recorded, exit 7)
        swaps = traffic_moves.swap_all(opened, _plan(opened, names, bool(gate), on_event), on_event)
    return {
        "environment": opened.name,
        "swaps": swaps,
        "smoke": smoke,
        "skip_smoke_reason": skip_smoke_reason,
        **({"canary": gate["evidence"]["steps"]} if gate else {}),
    }


def _gated_swap(
    actx: AppContext,
    opened: Environment,
    names: list[str],
    forced: str | None,
    canary: bool,
) -> dict[str, Any]:
    """A gated environment: the staged side passes the environment's gates (or --force, recorded)
    before it takes traffic, and the outcome goes into the ledger like a promotion's."""
    from genaiops_cli.core import side_doors, traffic_moves
    from genaiops_cli.core.gates_run import run_gates

    gates: list[dict[str, Any]] = []
    side_doors.require_staged(opened, names)
    with service_progress(actx.console, names) as on_event:
        if forced:
            actx.console.warn(f"swapping without the gates of {opened.name}: {forced} (recorded)")
        else:
            baseline = opened.host(names[0]).current(names[0]).live_label
            gates = run_gates(opened, names, "staged", baseline, on_event)
            failed = side_doors.gate_verdict(opened, gates, "traffic not moved")
            if failed is not None:
                rid, tag = side_doors.record(opened, "swap", names, "failed", gates, None)
                failed.details = {**failed.details, "release": rid, "ledger": tag}
                raise failed
        gate = _canary(opened, names, gates, on_event) if canary else None
        if gate:
            gates.append(gate)
        move = _plan(opened, names, bool(gate), on_event)
        swaps = traffic_moves.swap_all(opened, move, on_event, gates, forced)  # all or none
        previous = {n: move.was(n) for n in names}
        rid, tag = side_doors.record(opened, "swap", names, "live", gates, forced, previous)
    return {
        "environment": opened.name,
        "swaps": swaps,
        "gates": [{"name": g["name"], "verdict": g["verdict"]} for g in gates],
        "forced_reason": forced,
        "release": rid,
        "ledger": tag,
    }


def swappable(opened: Environment, names: list[str], explicit: bool) -> list[str]:
    """Jobs take no traffic: left out of a swap of every service (a named one refuses, saying why)."""
    from genaiops_cli.errors import UsageError

    if explicit:
        return names
    kept = [n for n in names if opened.host_kind(n) != "containerapp-job"]
    if not kept:
        raise UsageError(
            f"nothing to swap in {opened.name}: every service is a job, and jobs take no traffic",
            hint="`genaiops deploy` already made the job's new image the one its next run uses",
        )
    return kept
