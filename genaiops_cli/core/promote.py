"""Promote one release, by digest, from one environment to the next — and plan it without change.

Steps (each journaled in the target environment's ledger, each idempotent, so a re-run after a
failure continues where it stopped and creates no duplicate revision or copy):
  evidence → copy:<service> → deploy:<service> → gates → swap:<service> → record
Safety: the target's live revision keeps 100 % until every gate passed; a failed revision is
deactivated by core/deploy; only the swap moves traffic, in one complete write per app."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from genaiops_cli.core import containerapps as ca
from genaiops_cli.core import ledger as lg
from genaiops_cli.core.deploy import placement, planned_revision
from genaiops_cli.core.release import digest_of, release_id, release_spec, spec_delta
from genaiops_cli.errors import DeployError, GateFailed, GateInconclusive, GenAIOpsError, UsageError

if TYPE_CHECKING:
    from genaiops_cli.core.manifest.model import Manifest

EventFn = Callable[[str, str], None]
RELEASE_TAG = ca.TAG_RELEASE
PREVIOUS_RELEASE_TAG = ca.TAG_PREVIOUS_RELEASE


@dataclass
class Env:
    """One environment and the Azure things it points at (built lazily by `open_env`)."""

    name: str
    resolved: Any
    host: Any
    registry: Any  # RegistryAccess
    store: lg.LedgerStore
    services: list[str]


def open_env(manifest: Manifest, name: str, timeout: float = 600) -> Env:
    from genaiops_cli.core.targets import containerapps_host, registry_access
    from genaiops_cli.providers.azure.ledger_store import RegistryLedgerStore, with_lease

    if name not in manifest.environments:
        raise UsageError(
            f"unknown environment {name!r}", hint=f"environments: {', '.join(manifest.environments)}"
        )
    resolved = manifest.environment(name)
    access = registry_access(manifest, name)
    services = [n for n, s in resolved.services.items() if s.host == "containerapp"]
    return Env(
        name,
        resolved,
        containerapps_host(manifest, name, timeout),
        access,
        with_lease(RegistryLedgerStore(access.target, access.login_server), manifest, name),
        services,
    )


# ------------------------------------------------------------------------------ what is live


@dataclass
class LiveService:
    service: str
    app: str
    deployed: bool
    live: str | None = None
    staged: str | None = None
    image: str | None = None
    digest: str | None = None
    release: str | None = None  # from the app's tag
    matches_manifest: bool = False  # live revision == what this manifest would deploy for that image


def live_state(manifest: Manifest, env: Env) -> dict[str, LiveService]:
    out: dict[str, LiveService] = {}
    for name in env.services:
        app_name = ca.app_name(manifest.name, name)
        app = env.host.get_app(app_name)
        if app is None:
            out[name] = LiveService(name, app_name, False)
            continue
        state = ca.TrafficState.from_app(app)
        item = LiveService(
            name,
            app_name,
            True,
            state.live,
            state.staged,
            release=(app.get("tags") or {}).get(RELEASE_TAG) or None,
        )
        if state.live:
            rev = env.host.revision(app_name, state.live)
            containers = (((rev or {}).get("properties") or {}).get("template") or {}).get("containers") or [
                {}
            ]
            item.image = containers[0].get("image")
            item.digest = digest_of(item.image)
            if item.image:
                item.matches_manifest = state.live == expected_revision(manifest, env, name, item.image)
        out[name] = item
    return out


def expected_revision(manifest: Manifest, env: Env, service: str, image: str) -> str:
    """The revision name core/deploy gives this image with this environment's configuration."""
    return planned_revision(manifest, env.resolved, service, image, placement(env.host, env.resolved))[0]


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
        record = lg.load_release(src.store, wanted)
        if record is None:
            raise UsageError(
                f"release {wanted} is not in {src.name}'s ledger ({src.store.location})",
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
    from genaiops_cli.providers.azure.registry_raw import raw_registry

    candidate = resolve_release(manifest, src, wanted)
    evidence = lg.evidence_for(src.store, src.name, candidate.release_id)
    dst_live = live_state(manifest, dst)
    dst_raw = raw_registry(dst.registry.target, dst.registry.login_server)
    services = []
    for name in dst.services:
        digest = candidate.spec["services"][name]["digest"]
        repo = manifest.services[name].repository
        image = f"{dst.registry.login_server}/{repo}@{digest}"
        revision = expected_revision(manifest, dst, name, image)
        now = dst_live[name]
        present = dst_raw.has_manifest(str(repo), digest)
        exists = now.deployed and dst.host.revision(now.app, revision) is not None
        if now.live == revision:
            traffic = "none (already live)"
        elif dst.resolved.config.strategy == "bluegreen" and now.live:
            traffic = f"stage {revision} at 0 % on a label, gates, then 100 % {now.live} → {revision}"
        else:
            traffic = f"{revision} takes 100 %"
        services.append(
            {
                "service": name,
                "app": now.app,
                "from_digest": now.digest,
                "to_digest": digest,
                "changed": now.digest != digest,
                "image": image,
                "copy": "none (digest present)"
                if present
                else (
                    "retag"
                    if src.registry.login_server == dst.registry.login_server
                    else "copy missing blobs"
                ),
                "revision": revision,
                "revision_exists": exists,
                "live_revision": now.live,
                "traffic": traffic,
            }
        )
    lkg = lg.last_known_good(dst.store, dst.name)
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
        "strategy": dst.resolved.config.strategy,
        "changes": any(s["changed"] or s["live_revision"] != s["revision"] for s in services),
    }


# ------------------------------------------------------------------------------ promote


@dataclass
class Options:
    force_reason: str | None = None
    break_lock: str | None = None
    timeout: float = 300
    copy_method: str = "auto"
    lock_settle: float | None = None


def verify_entry(
    manifest: Manifest, src: Env, candidate: Candidate, on_event: EventFn
) -> lg.DeploymentRecord:
    """Evidence for an entry environment (no promote_from): run its gates against its live side now."""
    from genaiops_cli.core.gates_run import run_gates

    record = lg.DeploymentRecord(src.name, candidate.release_id, operation="verify", status="live")
    record.gates = run_gates(manifest, src.name, src.host, src.services, "live", None, on_event)
    record.services = {
        s: {"image": candidate.images[s], "digest": candidate.spec["services"][s]["digest"]}
        for s in src.services
    }
    record.status = "live" if record.gates_passed() else "failed"
    src.store.put(
        lg.release_tag(candidate.release_id),
        "release",
        (candidate.record or lg.ReleaseRecord(candidate.release_id, candidate.spec)).to_dict(),
    )
    lg.finish(src.store, record)
    return record


def promote(
    manifest: Manifest, src: Env, dst: Env, wanted: str | None, options: Options, on_event: EventFn
) -> dict[str, Any]:
    from genaiops_cli.core import lock as locks

    if src.name == dst.name:
        raise UsageError("--from and --to name the same environment")
    candidate = resolve_release(manifest, src, wanted)
    settle = options.lock_settle if options.lock_settle is not None else locks.DEFAULT_SETTLE
    held = locks.acquire(
        dst.store,
        dst.name,
        "promote",
        reason=f"promote {candidate.release_id} from {src.name}",
        break_lock=options.break_lock,
        settle=settle,
    )
    try:
        return _promote_locked(manifest, src, dst, candidate, options, on_event, held)
    finally:
        locks.release(held)


def _promote_locked(
    manifest: Manifest,
    src: Env,
    dst: Env,
    candidate: Candidate,
    options: Options,
    on_event: EventFn,
    held: Any,
) -> dict[str, Any]:
    rid = candidate.release_id
    journal = lg.load_deployment(dst.store, lg.journal_tag(dst.name, rid))
    resumed = False
    dst_live = live_state(manifest, dst)
    if journal is not None and journal.status in ("running", "failed"):
        journal.attempt += 1
        journal.status = "running"
        journal.error = None
        resumed = True
    else:
        if (
            journal is not None
            and journal.status == "live"
            and all(dst_live[s].digest == candidate.spec["services"][s]["digest"] for s in dst.services)
        ):
            return {
                "release": rid,
                "source": src.name,
                "target": dst.name,
                "status": "unchanged",
                "message": f"release {rid} is already live in {dst.name}",
                "record": journal.summary(),
            }
        previous = (lg.last_known_good(dst.store, dst.name) or {}).get("release")
        journal = lg.DeploymentRecord(dst.name, rid, source=src.name, previous_release=previous)
    if held.claim.broke and held.claim.broke.get("reason") != "expired":
        journal.override("lock", str(held.claim.broke["reason"]))
    journal.environment_config = dst.resolved.config.model_dump(mode="json", exclude={"resolve"})
    store = dst.store

    def save() -> None:
        store.put(lg.journal_tag(dst.name, rid), "deployment", journal.to_dict())
        held.renew()

    def fail(step: str, exc: GenAIOpsError) -> GenAIOpsError:
        journal.mark(step, lg.FAILED, error=exc.message)
        journal.status = "failed"
        journal.error = {"step": step, **exc.to_dict()}
        lg.finish(store, journal)
        exc.details = {
            **(exc.details or {}),
            "release": rid,
            "failed_step": step,
            "resume": f"re-run the same promote to continue from {step}",
        }
        return exc

    # 1. evidence from the source ------------------------------------------------------------
    if not journal.is_done("evidence"):
        evidence = lg.evidence_for(src.store, src.name, rid)
        if evidence is None and not src.resolved.config.promote_from and not options.force_reason:
            on_event(dst.services[0], f"no recorded evidence in {src.name}: running its gates against live")
            evidence = verify_entry(manifest, src, candidate, on_event)
            if not evidence.gates_passed():
                evidence = None
        if evidence is None:
            if not options.force_reason:
                err = GateFailed(
                    f"release {rid} has no passing gate evidence in {src.name}",
                    hint=f"promote it into {src.name} through its gates first, "
                    'or --force --reason "…" (recorded)',
                    code="no_evidence",
                )
                journal.status = "refused"
                journal.mark("evidence", lg.FAILED, error=err.message)
                journal.error = err.to_dict()
                lg.finish(store, journal)
                raise err
            journal.override("evidence", options.force_reason)
            journal.mark("evidence", lg.DONE, forced=True, reason=options.force_reason)
        else:
            journal.mark("evidence", lg.DONE, record=evidence.summary())
        save()

    store.put(
        lg.release_tag(rid), "release", (candidate.record or lg.ReleaseRecord(rid, candidate.spec)).to_dict()
    )

    # 2. copy images by digest ---------------------------------------------------------------
    from genaiops_cli.providers.azure.registry_copy import RegistryRef, copy_image

    def ref(env: Env, server: str) -> RegistryRef:
        reg = env.resolved.config.registry
        name = None if ("." in reg or ":" in reg) else reg
        return RegistryRef(env.registry.target, server, env.resolved.config.resource_group, name)

    images: dict[str, str] = {}
    for name in dst.services:
        digest = candidate.spec["services"][name]["digest"]
        repo = str(manifest.services[name].repository)
        images[name] = f"{dst.registry.login_server}/{repo}@{digest}"
        step = f"copy:{name}"
        if journal.is_done(step):
            continue
        src_server = candidate.images[name].split("/", 1)[0]
        on_event(name, f"copying {repo}@{digest[:19]} {src_server} → {dst.registry.login_server}")
        try:
            copied = copy_image(
                ref(src, src_server),
                ref(dst, dst.registry.login_server),
                repo,
                digest,
                f"rel-{rid}",
                options.copy_method,
            )
        except GenAIOpsError as exc:
            raise fail(step, exc) from exc
        journal.mark(step, lg.DONE, **copied.to_dict())
        save()

    # 3. deploy as the staged side -----------------------------------------------------------
    from genaiops_cli.core.deploy import deploy_service

    outcomes: dict[str, Any] = {}
    for name in dst.services:
        step = f"deploy:{name}"
        before = dst_live[name]
        try:
            outcome = deploy_service(
                dst.host,
                manifest,
                dst.resolved,
                name,
                images[name],
                dst.registry.login_server,
                dst.registry.target.subscription_id,
                options.timeout,
                on_event,
            )
        except GenAIOpsError as exc:
            raise fail(step, exc) from exc
        outcomes[name] = outcome
        journal.services[name] = {
            "image": images[name],
            "digest": candidate.spec["services"][name]["digest"],
            "revision": outcome.revision,
            "previous_revision": before.live,
            "app": outcome.app,
        }
        journal.mark(step, lg.DONE, action=outcome.action, revision=outcome.revision, label=outcome.label)
        save()

    # 4. gates on the new side ---------------------------------------------------------------
    from genaiops_cli.core.gates_run import run_gates

    strategy = dst.resolved.config.strategy
    # A first release (nothing live before) or a direct strategy goes live at deploy: gate it there.
    already_live = all(
        (outcomes[s].action in ("created", "live")) or dst_live[s].live == journal.services[s]["revision"]
        for s in dst.services
    )
    if not journal.is_done("gates"):
        label = "live" if (strategy == "direct" or already_live) else "staged"
        baseline = None
        if label == "staged":
            first = dst.services[0]
            state = ca.TrafficState.from_app(dst.host.get_app(ca.app_name(manifest.name, first)) or {})
            baseline = state.label_of(state.live)
        try:
            journal.gates = run_gates(manifest, dst.name, dst.host, dst.services, label, baseline, on_event)
        except GenAIOpsError as exc:
            raise fail("gates", exc) from exc
        blocking = [g for g in journal.gates if g["verdict"] != "pass"]
        if blocking:
            names = ", ".join(f"{g['name']} ({g['verdict']})" for g in blocking)
            inconclusive = all(g["verdict"] == "inconclusive" for g in blocking)
            cls = GateInconclusive if inconclusive else GateFailed
            err = cls(
                f"gates failed in {dst.name} for release {rid}: {names}; live traffic unchanged"
                if label == "staged"
                else f"gates failed in {dst.name} for release {rid}: {names}",
                hint="fix the release and promote again; `genaiops history` keeps the evidence",
                details={"gates": journal.gates},
            )
            if label == "live":
                _roll_back(manifest, dst, on_event)  # back to the previous revision, when there is one
            raise fail("gates", err)
        journal.mark("gates", lg.DONE, verdicts={g["name"]: g["verdict"] for g in journal.gates})
        save()

    # 5. swap --------------------------------------------------------------------------------
    from genaiops_cli.core.deploy import swap_service

    for name in dst.services:
        step = f"swap:{name}"
        if journal.is_done(step):
            continue
        app = dst.host.get_app(ca.app_name(manifest.name, name)) or {}
        state = ca.TrafficState.from_app(app)
        tags = {RELEASE_TAG: rid, PREVIOUS_RELEASE_TAG: journal.previous_release or ""}
        try:
            if state.live == journal.services[name]["revision"]:
                location = app.get("location") or dst.resolved.config.location
                dst.host.patch_app(
                    ca.app_name(manifest.name, name),
                    ca.traffic_patch(location, state.traffic(), {**state.tags(), **tags}, app.get("tags")),
                )
                journal.mark(step, lg.DONE, live=state.live, note="already live")
            else:
                swapped = swap_service(dst.host, manifest, dst.resolved, name, on_event, extra_tags=tags)
                journal.mark(step, lg.DONE, **swapped)
        except GenAIOpsError as exc:
            raise fail(step, exc) from exc
        save()

    journal.status = "live"
    journal.mark("record", lg.DONE)
    history_tag = lg.finish(store, journal)
    return {
        "release": rid,
        "source": src.name,
        "target": dst.name,
        "status": "live",
        "resumed": resumed,
        "attempt": journal.attempt,
        "history": history_tag,
        "ledger": store.location,
        "services": journal.services,
        "gates": [{"name": g["name"], "verdict": g["verdict"]} for g in journal.gates],
        "overrides": journal.overrides,
        "steps": [s.__dict__ for s in journal.steps],
    }


def _roll_back(manifest: Manifest, env: Env, on_event: EventFn) -> None:
    from genaiops_cli.core.deploy import rollback_service

    for name in env.services:
        try:
            rollback_service(env.host, manifest, env.resolved, name, 120, on_event)
        except GenAIOpsError:
            pass  # no previous revision: nothing to go back to


# ------------------------------------------------------------------------------ history and diff


def history(manifest: Manifest, envs: list[Env], limit: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for env in envs:
        rows.extend(r.summary() for r in lg.history(env.store, env.name, limit))
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
        "lkg_a": (lg.last_known_good(a.store, a.name) or {}).get("release"),
        "lkg_b": (lg.last_known_good(b.store, b.name) or {}).get("release"),
        "services": services,
        "environment": spec_delta(env_a, env_b),
    }
