"""Gated environments have no side door.

An environment with `gates` or `promote_from` receives releases through `promote`, which checks
evidence, runs the gates and records the result. `deploy` and `swap` reach the same traffic, so there:

- `swap` runs the environment's gates against the staged side (not only smoke checks) and records
  the result in the ledger like a promotion: history always, last-known-good when every gate passed;
- in an environment releases are promoted into (`promote_from`), a `deploy` that would go live at
  once (strategy `direct`) is refused before any network call — a blue/green deploy of an app that
  runs something only stages at 0 %, and its swap is gated;
- a `deploy` that went live at once — strategy `direct` in an entry environment (gates, no
  `promote_from`, e.g. dev), or the first revision of a new app in any gated environment (nothing
  to stage beside) — runs the environment's gates against live right after, as a promotion does
  for a direct target: pass → recorded live (last-known-good, evidence for promoting out); fail →
  rolled back to the previous revision, or, for a first release with none, the app this deploy
  created is deleted (the environment had none: it is left as found), recorded as failed, exit
  9/10;
- `--force --reason` skips the gates; the override and its reason are recorded."""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import TYPE_CHECKING, Any

from genaiops_cli.core import ledger as lg
from genaiops_cli.core.ports import PREVIOUS_RELEASE_TAG, RELEASE_TAG
from genaiops_cli.core.reconcile import release_at, settle_release_tags
from genaiops_cli.core.release import release_id, release_spec
from genaiops_cli.errors import GateFailed, GateInconclusive, GenAIOpsError, UsageError

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


def require_staged(env: Environment, services: list[str]) -> None:
    """Before a gated swap runs gates or moves anything: every service has a staged side (else
    exit 7 `nothing_staged`, nothing run, nothing moved — never half the services swapped)."""
    from genaiops_cli.errors import DeployError

    missing = [n for n in services if not env.host(n).current(n).staged]
    if missing:
        raise DeployError(
            f"nothing staged for {', '.join(missing)} in {env.name}: nothing to swap",
            hint="deploy a new release first (`genaiops deploy`; a first release goes live at deploy, "
            "through the gates), or name the services that are staged",
            code="nothing_staged",
        )


def gate_verdict(
    env: Environment, gates: list[dict[str, Any]], what: str, side: str = "staged"
) -> GateFailed | None:
    """The error to raise when a gate did not pass (None: all passed)."""
    blocking = [g for g in gates if g["verdict"] != "pass"]
    if not blocking:
        return None
    names = ", ".join(f"{g['name']} ({g['verdict']})" for g in blocking)
    cls = GateInconclusive if all(g["verdict"] == "inconclusive" for g in blocking) else GateFailed
    return cls(
        f"gates failed in {env.name} for the {side} side: {names}; {what}",
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


def gate_deploy(
    env: Environment,
    went_live: list[str],
    forced: str | None,
    on_event: EventFn,
    created: Collection[str] = (),
) -> dict[str, Any] | None:
    """After a deploy in a gated environment: the services that went live at once (`went_live`;
    `created`: those whose unit this deploy created) pass the environment's gates against live, or
    are undone (`undo_live`) and the failure raised — either way recorded like a promotion. None
    when nothing went live (staged: its swap is gated)."""
    from genaiops_cli.core.gates_run import run_gates

    if not went_live or not is_gated(env.resolved):
        return None
    if forced:
        rid, tag = record(env, "deploy", went_live, "live", [], forced)
        return {"release": rid, "ledger": tag, "gates": [], "forced_reason": forced}
    gates = run_gates(env, went_live, "live", None, on_event)
    if gate_verdict(env, gates, "") is None:
        rid, tag = record(env, "deploy", went_live, "live", gates, None)
        return {"release": rid, "ledger": tag, "gates": _brief(gates)}
    measured = release_of(env, went_live, "live")  # before the rollback moves it
    undone = undo_live(env, went_live, created, on_event)
    failed = gate_verdict(env, gates, undone_summary(undone), side="live")
    assert failed is not None
    rid, tag = record(env, "deploy", went_live, "failed", gates, None, measured=measured)
    failed.details = {**failed.details, "release": rid, "ledger": tag, "undone": undone}
    raise failed


def undo_live(
    env: Environment, services: list[str], created: Collection[str], on_event: EventFn
) -> dict[str, str]:
    """Take a release that failed its gates off live traffic: each service back to its previous
    revision ("rolled back"); one with none whose unit this command created is deleted ("removed":
    the environment had none, so it is left as found); otherwise it stays ("kept"). The release
    tags are then re-derived from history (the host swapped them as if the failed one had been
    recorded)."""
    undone: dict[str, str] = {}
    for name in services:
        host = env.host(name)
        try:
            host.rollback(name, 120, on_event)
            undone[name] = "rolled back"
        except GenAIOpsError:  # no previous revision to go back to
            if name not in created:
                undone[name] = "kept"
                continue
            host.remove(name, on_event)
            undone[name] = "removed"
    settle_release_tags(env, services)
    return undone


def undone_summary(undone: dict[str, str]) -> str:
    """One clause for the error message: what serves now."""
    parts = []
    for what, say in (
        ("rolled back", "rolled back"),
        ("removed", "removed (first release: nothing to roll back to)"),
        ("kept", "still live (no previous revision, and not created by this command)"),
    ):
        names = [n for n, done in undone.items() if done == what]
        if names:
            parts.append(f"{', '.join(names)} {say}")
    return "; ".join(parts)


def _brief(gates: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"name": g["name"], "verdict": g["verdict"]} for g in gates]


def record(
    env: Environment,
    operation: str,
    services: list[str],
    status: str,
    gates: list[dict[str, Any]],
    forced: str | None,
    previous: dict[str, str | None] | None = None,
    measured: tuple[str, dict[str, dict[str, Any]]] | None = None,
    error: dict[str, Any] | None = None,
) -> tuple[str, str]:
    """Write the deploy/swap into the environment's history (last-known-good when its gates passed)
    and tag the apps with the release id, as a promotion does. Returns (release id, history tag).
    `measured`: the release and its detail when taken before traffic moved again (a rollback);
    `error`: why a failed one failed (and what was undone)."""
    rid, detail = measured or release_of(env, services, "live" if status == "live" else "staged")
    if previous is None:  # what it replaced (live: now the previous revision) or would have replaced
        now = {n: env.host(n).current(n) for n in services}
        previous = {n: (i.previous if status == "live" else i.live) for n, i in now.items()}
    for name, prev in previous.items():
        detail.setdefault(name, {})["previous_revision"] = prev
    replaced = release_at(env, previous)  # from what ran there, not from last-known-good
    others: list[str] = []
    if status == "live" and measured is None:
        rid, detail, others, replaced = whole_environment(env, services, rid, detail, replaced)
    entry = lg.DeploymentRecord(
        env.name,
        rid,
        operation=operation,
        status=status,
        previous_release=replaced,
        services=detail,
        gates=gates,
        error=error,
    )
    if forced:
        entry.override("gates", forced)
    tag = lg.record_event(env.ledger, entry)
    if status == "live" and rid != "unreleased":
        # the release reached this environment: its record is here (`promote --release` finds it)
        spec = release_spec(env.manifest, {s: d["digest"] for s, d in detail.items() if d.get("digest")})
        if release_id(spec) == rid:
            env.ledger.put(lg.release_tag(rid), "release", lg.ReleaseRecord(rid, spec).to_dict())
        for name in services:
            env.host(name).record_live(name, {RELEASE_TAG: rid, PREVIOUS_RELEASE_TAG: replaced or ""})
        for name in others:  # they run this release too now (its spec names their digest)
            env.host(name).record_live(name, {RELEASE_TAG: rid})
    return rid, tag


def whole_environment(
    env: Environment,
    services: list[str],
    rid: str,
    detail: dict[str, dict[str, Any]],
    replaced: str | None,
) -> tuple[str, dict[str, dict[str, Any]], list[str], str | None]:
    """A deploy or swap that put some of the environment's services live: the release is what the
    environment runs as a whole (every deployed service's live digest), and the entry names the
    others too, as they run, so it names what runs (`status` shows no drift). Returns (release,
    detail, the others, previous release — of them all, when the others exist); as given when
    no other service is deployed, or one has no digest (nothing to say about it)."""
    now = {s: env.host(s).current(s) for s in env.services if s not in services}
    others = [s for s, i in now.items() if i.deployed]
    if not others:
        return rid, detail, [], replaced
    whole, every = release_of(env, [*services, *others], "live")
    if whole == "unreleased":
        return rid, detail, [], replaced
    for name in services:
        every[name] = {**every[name], **detail[name]}
    for name in others:
        every[name]["previous_revision"] = now[name].previous
    kept = {s: d.get("previous_revision") for s, d in every.items()}
    return whole, every, others, release_at(env, kept)  # what a rollback of them all returns to


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
