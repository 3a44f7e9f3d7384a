"""Gated environments have no side door.

An environment with `gates` or `promote_from` receives releases through `promote`, which checks
evidence, runs the gates and records the result. `deploy` and `swap` reach the same traffic, so there:

- `swap` runs the environment's gates against the staged side (not only smoke checks) and records
  the result in the ledger like a promotion: history always, last-known-good when every gate passed;
- in an environment releases are promoted into (`promote_from`), a `deploy` that would go live at
  once (strategy `direct`) is refused before any network call — a blue/green deploy only stages at
  0 %, and its swap is gated. An entry environment (gates, no `promote_from`: dev) takes deploys as
  its way in; promoting out of it runs its gates against what is live when no evidence is recorded;
- `--force --reason` skips the gates; the override and its reason are recorded."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from genaiops_cli.core import ledger as lg
from genaiops_cli.core.release import release_id, release_spec
from genaiops_cli.errors import GateFailed, GateInconclusive, UsageError

if TYPE_CHECKING:
    from genaiops_cli.core.environment import Environment
    from genaiops_cli.core.manifest.model import ResolvedEnvironment
    from genaiops_cli.core.ports import EventFn, RevisionMetrics, TrafficSplit


def is_gated(resolved: ResolvedEnvironment) -> bool:
    return bool(resolved.gates) or bool(resolved.config.promote_from)


def why_gated(resolved: ResolvedEnvironment) -> str:
    parts = []
    if resolved.gates:
        parts.append(f"gates: {', '.join(resolved.gates)}")
    if resolved.config.promote_from:
        parts.append(f"promote_from: {resolved.config.promote_from}")
    return "; ".join(parts)


def check_deploy(name: str, resolved: ResolvedEnvironment, forced: str | None) -> None:
    """Refuse (before any network call) a deploy that would put an ungated release live in an
    environment releases are promoted into."""
    if forced or not resolved.config.promote_from or resolved.config.strategy != "direct":
        return
    raise UsageError(
        f"{name} is a gated environment ({why_gated(resolved)}) and its strategy is direct: a deploy "
        "would go live without its gates",
        hint=f'`genaiops promote --to {name}` (gates + ledger), or deploy --force --reason "…" (recorded)',
        code="gated_environment",
    )


def gate_verdict(env: Environment, gates: list[dict[str, Any]], what: str) -> GateFailed | None:
    """The error to raise when a gate did not pass (None: all passed)."""
    blocking = [g for g in gates if g["verdict"] != "pass"]
    if not blocking:
        return None
    names = ", ".join(f"{g['name']} ({g['verdict']})" for g in blocking)
    cls = GateInconclusive if all(g["verdict"] == "inconclusive" for g in blocking) else GateFailed
    return cls(
        f"gates failed in {env.name} for the staged side: {names}; {what}",
        hint='fix the release and deploy again, or --force --reason "…" (recorded)',
        details={"gates": gates},
    )


def release_of(env: Environment, services: list[str], role: str) -> tuple[str, dict[str, dict[str, Any]]]:
    """Release id of what `services` run on their `role` side (live | staged), from the revisions'
    image digests and this manifest, with per-service detail ("unreleased" when one has no digest)."""
    from genaiops_cli.core.release import digest_of

    detail: dict[str, dict[str, Any]] = {}
    digests: dict[str, str] = {}
    for name in services:
        row = next((r for r in env.host(name).status(name).get("revisions", []) if r.get("role") == role), {})
        digest = digest_of(row.get("image"))
        detail[name] = {"image": row.get("image"), "digest": digest, "revision": row.get("name")}
        if digest:
            digests[name] = digest
    if len(digests) != len(services):
        return "unreleased", detail
    return release_id(release_spec(env.manifest, digests)), detail


def record(
    env: Environment,
    operation: str,
    services: list[str],
    status: str,
    gates: list[dict[str, Any]],
    forced: str | None,
    previous: dict[str, str | None] | None = None,
) -> tuple[str, str]:
    """Write the deploy/swap into the environment's history (last-known-good when its gates passed)
    and tag the apps with the release id, as a promotion does. Returns (release id, history tag)."""
    rid, detail = release_of(env, services, "live" if status == "live" else "staged")
    for name, prev in (previous or {}).items():
        detail.setdefault(name, {})["previous_revision"] = prev
    entry = lg.DeploymentRecord(
        env.name,
        rid,
        operation=operation,
        status=status,
        previous_release=(lg.last_known_good(env.ledger, env.name) or {}).get("release"),
        services=detail,
        gates=gates,
    )
    if forced:
        entry.override("gates", forced)
    tag = lg.record_event(env.ledger, entry)
    if status == "live" and rid != "unreleased":
        from genaiops_cli.core import containerapps as ca

        for name in services:
            env.host(name).record_live(name, {ca.TAG_RELEASE: rid})
    return rid, tag


def canary_before_swap(
    env: Environment,
    services: list[str],
    ports: Callable[[Environment, str], tuple[TrafficSplit, RevisionMetrics]],
    gates: list[dict[str, Any]],
    on_event: EventFn,
) -> dict[str, Any] | None:
    """`swap` on a `strategy: canary` environment: the staged side walks the canary steps first
    (as promote's canary step). Returns the canary gate (None: not a canary environment); a failure
    is back on stable, recorded with the evidence (history entry `swap` / `failed`) and raised
    (exit 9; inconclusive: exit 10)."""
    from genaiops_cli.core.canary import PASS, Arm, Progression

    spec = env.config.canary
    if env.config.strategy != "canary" or spec is None:
        return None
    progression = Progression(spec, [Arm(s, *ports(env, s)) for s in services], on_event)
    outcome = progression.run()
    gate = progression.gate(outcome)
    if outcome != PASS:
        rid, tag = record(env, "swap", services, "failed", [*gates, gate], None)
        error = progression.error(outcome)
        error.details = {**error.details, "release": rid, "ledger": tag}
        raise error
    return gate
