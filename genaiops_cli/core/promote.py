"""Promote one release, by digest, from one environment to the next — and plan it without change.

The promotion itself is a list of steps (core/promote_steps.py) run over a journal in the target
environment's ledger (core/steps.py), so a re-run after a failure continues where it stopped and
creates no duplicate revision or copy. This module resolves the release, plans, takes the lock,
opens or resumes the journal, and reports; history and diff read the ledgers."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from genaiops_cli.core import ledger as lg
from genaiops_cli.core.after_release import Follow
from genaiops_cli.core.ports import EventFn, LiveService
from genaiops_cli.core.release import release_id, release_spec, spec_delta
from genaiops_cli.errors import DeployError, GenAIOpsError, UsageError

if TYPE_CHECKING:
    from genaiops_cli.core.environment import Environment as Env
    from genaiops_cli.core.lock import Heartbeat
    from genaiops_cli.core.manifest.model import Manifest
    from genaiops_cli.core.ports import Lease, RevisionMetrics, TrafficSplit
    from genaiops_cli.core.promote_steps import Run


# ------------------------------------------------------------------------------ what is live


def live_state(manifest: Manifest, env: Env) -> dict[str, LiveService]:
    return {name: env.host(name).current(name) for name in env.services}


def expected_revision(manifest: Manifest, env: Env, service: str, image: str) -> str:
    """The revision name the service's host gives this image with this environment's configuration."""
    return env.host(service).expected_revision(service, image)


# ------------------------------------------------------------------------------ the release


@dataclass
class Candidate:
    release_id: str
    spec: dict[str, Any]
    images: dict[str, str]  # service → source image reference (…@sha256:…)
    record: lg.ReleaseRecord | None = None
    warnings: list[str] = field(default_factory=list)


def resolve_release(manifest: Manifest, src: Env, wanted: str | None) -> Candidate:
    """The release live in `src` (or `wanted`), checked against this manifest."""
    live = live_state(manifest, src)
    missing = [s for s, item in live.items() if not item.digest]
    if wanted is None and missing:
        raise DeployError(
            f"nothing deployed by digest in {src.name} for {', '.join(missing)}",
            hint=f"deploy to {src.name} first (`genaiops deploy -e {src.name}`)",
            code="nothing_live",
        )
    if wanted:
        record = lg.load_release(src.ledger, wanted)
        if record is None:
            raise UsageError(
                f"release {wanted} is not in {src.name}'s ledger ({src.ledger.location})",
                hint=f"see `genaiops history --env {src.name}`",
                code="release_unknown",
            )
        digests = {s: v["digest"] for s, v in record.spec["services"].items()}
        images = {
            s: f"{src.registry.login_server}/{manifest.services[s].repository}@{d}"
            for s, d in digests.items()
        }
    else:
        record = None
        digests = {s: str(item.digest) for s, item in live.items()}
        images = {s: str(item.image) for s, item in live.items()}
    spec = release_spec(manifest, digests)
    rid = release_id(spec)
    if record is not None and rid != record.release_id:
        delta = spec_delta(record.spec, spec)
        raise UsageError(
            f"the manifest no longer describes release {record.release_id} "
            f"({len(delta)} difference(s), first: {delta[0]['path'] if delta else '?'})",
            hint="promote the release that matches this manifest, or deploy the changed configuration first",
            code="release_mismatch",
            details={"delta": delta[:20]},
        )
    candidate = Candidate(rid, spec, images, record)
    if wanted is None:
        drifted = [s for s, item in live.items() if not item.matches_manifest]
        if drifted:
            raise UsageError(
                f"{src.name} runs {', '.join(drifted)} with a configuration this manifest no longer gives it",
                hint=f"deploy the current configuration to {src.name} first, or promote --release ID",
                code="release_mismatch",
            )
    return candidate


# ------------------------------------------------------------------------------ plan


def plan(manifest: Manifest, src: Env, dst: Env, wanted: str | None = None) -> dict[str, Any]:
    """What `promote` would do, with no change made."""
    candidate = resolve_release(manifest, src, wanted)
    evidence = lg.evidence_for(src.ledger, src.name, candidate.release_id)
    dst_live = live_state(manifest, dst)
    services = [_plan_service(manifest, src, dst, candidate, dst_live[name]) for name in dst.services]
    lkg = lg.last_known_good(dst.ledger, dst.name)
    return {
        "source": src.name,
        "target": dst.name,
        "release": candidate.release_id,
        "target_release": (lkg or {}).get("release")
        or next((s.release for s in dst_live.values() if s.release), None),
        "source_evidence": evidence.summary() if evidence else None,
        "evidence_ok": bool(evidence),
        "services": services,
        "gates": list(dst.resolved.gates),
        "strategy": dst.config.strategy,
        "changes": any(s["changed"] or s["live_revision"] != s["revision"] for s in services),
    }


def _plan_service(
    manifest: Manifest, src: Env, dst: Env, candidate: Candidate, now: LiveService
) -> dict[str, Any]:
    name = now.service
    digest = candidate.spec["services"][name]["digest"]
    repo = str(manifest.services[name].repository)
    image = f"{dst.registry.login_server}/{repo}@{digest}"
    host = dst.host(name)
    revision = host.expected_revision(name, image)
    if now.live == revision:
        traffic = "none (already live)"
    elif "deploy_at_swap" in host.capabilities:  # a job takes no traffic
        traffic = f"job runs {revision} from its next execution (written after the gates)"
    elif dst.config.strategy == "bluegreen" and now.live:
        traffic = f"stage {revision} at 0 % on a label, gates, then 100 % {now.live} → {revision}"
    elif dst.config.strategy == "canary" and now.live and dst.config.canary:
        weights = " → ".join(f"{s.weight} %" for s in dst.config.canary.steps)
        traffic = f"stage {revision} at 0 %, gates, canary {weights} with analysis, then 100 %"
    else:
        traffic = f"{revision} takes 100 %"
    if dst.registry.has(repo, digest):
        copy = "none (digest present)"
    else:
        same = src.registry.login_server == dst.registry.login_server
        copy = "retag" if same else "copy missing blobs"
    return {
        "service": name,
        "app": now.app,
        "from_digest": now.digest,
        "to_digest": digest,
        "changed": now.digest != digest,
        "image": image,
        "copy": copy,
        "revision": revision,
        "revision_exists": now.deployed and host.has_revision(name, revision),
        "live_revision": now.live,
        "traffic": traffic,
    }


# ------------------------------------------------------------------------------ promote


@dataclass
class Options:
    force_reason: str | None = None
    break_lock: str | None = None
    timeout: float = 300
    copy_method: str = "auto"
    lock_settle: float | None = None
    lock_heartbeat: Heartbeat | None = None  # when the lease is renewed (a thread unless a test drives it)
    # a `strategy: canary` target: the service's traffic split and metrics per revision (wiring)
    delivery: Callable[[Env, str], tuple[TrafficSplit, RevisionMetrics]] | None = None
    follow: Follow = field(default_factory=Follow)  # post-release watch and monitor apply
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep


def promote(
    manifest: Manifest, src: Env, dst: Env, wanted: str | None, options: Options, on_event: EventFn
) -> dict[str, Any]:
    from genaiops_cli.core import lock as locks

    if src.name == dst.name:
        raise UsageError("--from and --to name the same environment")
    candidate: Candidate | None = None
    try:
        candidate = resolve_release(manifest, src, wanted)
        settle = options.lock_settle if options.lock_settle is not None else locks.DEFAULT_SETTLE
        held = locks.acquire(
            dst.ledger,
            dst.name,
            "promote",
            reason=f"promote {candidate.release_id} from {src.name}",
            break_lock=options.break_lock,
            settle=settle,
            lease=dst.lock,
            heartbeat=options.lock_heartbeat,
        )
    except GenAIOpsError as exc:
        record_unopened(dst, src.name, candidate.release_id if candidate else wanted, exc)
        raise
    except KeyboardInterrupt:
        record_unopened(dst, src.name, candidate.release_id if candidate else wanted, interrupted("start"))
        raise
    try:
        broke = held.claim.broke if held.claim.broke and held.claim.broke.get("reason") != "expired" else None
        result = run_promotion(src, dst, candidate, options, on_event, held, broke)
        if result["status"] == "live":
            after_promotion(dst, result, options.follow, on_event, held.renew)
        return result
    finally:
        locks.release(held)


def after_promotion(
    dst: Env, result: dict[str, Any], follow: Follow, on_event: EventFn, tick: Callable[[], None]
) -> None:
    """The release is live and recorded: apply `monitor:` when asked, then the post-release watch.
    A watch failure (rolled back, exit 9) or an interrupt carries the promotion in its details; a
    failed monitor apply is reported after the watch, with the release still live (exit 5)."""
    from genaiops_cli.core import after_release as after
    from genaiops_cli.errors import GenAIOpsError

    first = dst.services[0] if dst.services else dst.name
    monitor = after.apply_monitor(
        dst.manifest, dst.name, "promote", follow.monitor, lambda message: on_event(first, message)
    )
    if monitor is not None:
        result["monitor"] = monitor
    try:
        watched = after.watch(dst, dst.services, result["release"], follow, on_event, tick)
    except GenAIOpsError as exc:
        exc.details = {**(exc.details or {}), "promotion": result}
        raise
    if watched is not None:
        result["watch"] = watched
    if monitor is not None and not monitor["ok"]:
        what = f"release {result['release']} is live in {dst.name} (promotion recorded)"
        raise after.monitor_failure(dst.name, what, monitor, result)


def run_promotion(
    src: Env,
    dst: Env,
    candidate: Candidate,
    options: Options,
    on_event: EventFn,
    lease: Lease | None = None,
    broke: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Open or resume the journal, run the steps that are not done, report. `broke`: the lock
    this run took over (recorded as an override)."""
    from genaiops_cli.core.promote_steps import Run, promotion_steps
    from genaiops_cli.core.steps import Journal, execute

    try:
        dst_live = live_state(dst.manifest, dst)
        journal, resumed = open_journal(src, dst, candidate, dst_live)
    except GenAIOpsError as exc:
        record_unopened(dst, src.name, candidate.release_id, exc)
        raise
    except KeyboardInterrupt:
        record_unopened(dst, src.name, candidate.release_id, interrupted("start"))
        raise
    if journal.status == "live":
        return unchanged(src, dst, candidate, journal, lg.repair_records(dst.ledger, journal))
    if broke:
        journal.override("lock", str(broke["reason"]))
    journal.environment_config = dst.config.model_dump(mode="json", exclude={"resolve"})
    run = Run(src, dst, candidate, options, on_event, journal, dst_live)
    execute(
        promotion_steps(dst.services, dst.config.strategy),
        run,
        Journal(journal, dst.ledger, lease),
        on_step=lambda name: on_event(dst.services[0], f"step: {name}"),
    )
    return report(run, resumed)


def record_unopened(dst: Env, source: str, release: str | None, exc: GenAIOpsError) -> None:
    """A promotion that failed before its journal opened (the source unreadable, the lock held or
    unavailable, the target unreadable) still goes into the target's history, as `failed` with the
    error's code: every attempt is in history. Not a usage error (nothing was attempted), and not
    when the target's ledger is what failed (no entry is invented there; a write now would likely
    fail too). Best effort: a write that fails leaves the original error to report."""
    if isinstance(exc, UsageError):
        return
    try:
        store = dst.ledger
        if raised_in(exc, store):
            return
        record = lg.DeploymentRecord(dst.name, release or "unknown", source=source, status="failed")
        record.error = {"step": "start", **exc.to_dict()}
        lg.record_event(store, record)
    except GenAIOpsError:
        pass


def interrupted(step: str) -> GenAIOpsError:
    """Ctrl-C/SIGTERM before the journal opened, as history records it (the CLI still exits 130)."""
    return GenAIOpsError(f"interrupted during {step}", code="interrupted")


def raised_in(exc: BaseException, obj: object) -> bool:
    """Whether `exc` was raised inside one of `obj`'s methods (its traceback passes through a frame
    whose `self` is `obj`): tells a ledger failure from a failure of what the ledger was about."""
    import traceback

    return any(frame.f_locals.get("self") is obj for frame, _ in traceback.walk_tb(exc.__traceback__))


def open_journal(
    src: Env, dst: Env, candidate: Candidate, dst_live: dict[str, LiveService]
) -> tuple[lg.DeploymentRecord, bool]:
    """(journal, resumed): the failed or interrupted run of this release to resume, the finished one
    when the release is already live there, else a new one."""
    rid = candidate.release_id
    journal = lg.load_deployment(dst.ledger, lg.journal_tag(dst.name, rid))
    if journal is not None and journal.status in ("running", "failed"):
        journal.attempt += 1
        journal.status = "running"
        journal.error = None
        return journal, True
    if (
        journal is not None
        and journal.status == "live"
        and all(dst_live[s].digest == candidate.spec["services"][s]["digest"] for s in dst.services)
    ):
        return journal, False
    new_apps = [s for s in dst.services if not dst_live[s].deployed]
    return lg.DeploymentRecord(
        dst.name, rid, source=src.name, previous_release=replaced(dst, dst_live), new_apps=new_apps
    ), False


def replaced(dst: Env, dst_live: dict[str, LiveService]) -> str | None:
    """The release this promotion replaces: what history recorded on the revisions live now (not
    last-known-good, which may name another — the release tag a swap writes as previous must be
    what a rollback returns to). None when nothing recorded runs there."""
    from genaiops_cli.core.reconcile import release_at

    return release_at(dst, {s: item.live for s, item in dst_live.items() if item.deployed})


def unchanged(
    src: Env, dst: Env, candidate: Candidate, journal: lg.DeploymentRecord, repaired: list[str]
) -> dict[str, Any]:
    """The release already runs in the target; `repaired`: records a crash had left out, now written."""
    message = f"release {candidate.release_id} is already live in {dst.name}"
    if repaired:
        message += f"; repaired its {' and '.join(r.replace('_', '-') for r in repaired)} record"
    return {
        "release": candidate.release_id,
        "source": src.name,
        "target": dst.name,
        "status": "unchanged",
        "message": message,
        "repaired": repaired,
        "record": journal.summary(),
    }


def report(run: Run, resumed: bool) -> dict[str, Any]:
    journal = run.journal
    return {
        "release": run.release_id,
        "source": run.src.name,
        "target": run.dst.name,
        "status": "live",
        "resumed": resumed,
        "attempt": journal.attempt,
        "history": run.history,
        "ledger": run.dst.ledger.location,
        "services": journal.services,
        "gates": [_gate_brief(g) for g in journal.gates],
        "overrides": journal.overrides,
        "steps": [s.__dict__ for s in journal.steps],
    }


def _gate_brief(gate: dict[str, Any]) -> dict[str, Any]:
    """Name and verdict; and the pinned dataset version an evaluation read (`@latest` resolved)."""
    dataset = (gate.get("evidence") or {}).get("dataset")
    return {"name": gate["name"], "verdict": gate["verdict"]} | ({"dataset": dataset} if dataset else {})


# ------------------------------------------------------------------------------ history and diff


def history(manifest: Manifest, envs: list[Env], limit: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for env in envs:
        rows.extend(r.summary() for r in lg.history(env.ledger, env.name, limit))
    rows.sort(key=lambda r: r.get("finished_at") or r.get("started_at") or "", reverse=True)
    return rows[:limit]


def diff(manifest: Manifest, a: Env, b: Env) -> dict[str, Any]:
    live_a, live_b = live_state(manifest, a), live_state(manifest, b)

    def release_of(env: Env, live: dict[str, LiveService]) -> str | None:
        digests = {s: v.digest for s, v in live.items()}
        if not all(digests.values()):
            return None
        return release_id(release_spec(manifest, {s: str(d) for s, d in digests.items()}))

    services = []
    for name in sorted(set(a.services) | set(b.services)):
        sa, sb = live_a.get(name), live_b.get(name)
        cfg_a = a.resolved.services[name].model_dump(mode="json") if name in a.resolved.services else None
        cfg_b = b.resolved.services[name].model_dump(mode="json") if name in b.resolved.services else None
        services.append(
            {
                "service": name,
                "digest_a": sa.digest if sa else None,
                "digest_b": sb.digest if sb else None,
                "same_digest": bool(sa and sb and sa.digest and sa.digest == sb.digest),
                "revision_a": sa.live if sa else None,
                "revision_b": sb.live if sb else None,
                "config": [
                    d for d in spec_delta(cfg_a, cfg_b) if not d["path"].startswith(("smoke", "build"))
                ],
            }
        )
    env_a = a.resolved.config.model_dump(mode="json", exclude={"services", "resolve"})
    env_b = b.resolved.config.model_dump(mode="json", exclude={"services", "resolve"})
    return {
        "a": a.name,
        "b": b.name,
        "release_a": release_of(a, live_a),
        "release_b": release_of(b, live_b),
        "lkg_a": (lg.last_known_good(a.ledger, a.name) or {}).get("release"),
        "lkg_b": (lg.last_known_good(b.ledger, b.name) or {}).get("release"),
        "services": services,
        "environment": spec_delta(env_a, env_b),
    }
