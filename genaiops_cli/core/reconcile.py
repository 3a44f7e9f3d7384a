"""The ledger checked against what runs: drift between the records (the release tag on each
service, last-known-good, history's newest entry, and the previous release — the app's
previous-release tag and history's `previous_release`, which rollback relies on) and the traffic
the host reports, and the repair that makes the records name what runs again — recorded as a
`repair` entry in history.

What runs is the truth: a repair never moves traffic, it only rewrites the bookkeeping."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from genaiops_cli.core import ledger as lg
from genaiops_cli.core.ports import PREVIOUS_RELEASE_TAG, RELEASE_TAG

if TYPE_CHECKING:
    from genaiops_cli.core.environment import Environment
    from genaiops_cli.core.ports import LedgerStore, LiveService

HISTORY_DEPTH = 50  # how far back a release matching what runs is looked for


def live_digests(env: Environment) -> dict[str, LiveService]:
    return {s: env.host(s).current(s) for s in env.services}


def _serves(record: lg.DeploymentRecord | None, live: dict[str, LiveService]) -> bool:
    """Whether `record` names what runs: by digest, else by revision (a rollback records revisions)."""
    if record is None:
        return False
    for service, item in live.items():
        named = record.services.get(service) or {}
        if named.get("digest"):
            if named["digest"] != item.digest:
                return False
        elif not named.get("revision") or named["revision"] != item.live:
            return False
    return True


def serving_record(env: Environment, live: dict[str, LiveService]) -> tuple[str, lg.DeploymentRecord] | None:
    """(history tag, record): the newest live entry whose digests are exactly what runs."""
    store = env.ledger
    for tag in sorted(store.tags(lg.history_prefix(env.name)), reverse=True)[:HISTORY_DEPTH]:
        found = lg.load_deployment(store, tag)
        if found and found.status == "live" and _serves(found, live):
            return tag, found
    return None


def release_at(
    env: Environment, revisions: dict[str, str | None], store: LedgerStore | None = None
) -> str | None:
    """The one release the newest live history entry records on exactly these revisions (None
    when a service has no such revision, no entry names them, or the entry names different
    releases on them — a mixed record: no one release runs there)."""
    if not revisions or not all(revisions.values()):
        return None
    store = store or env.ledger
    for tag in sorted(store.tags(lg.history_prefix(env.name)), reverse=True)[:HISTORY_DEPTH]:
        found = lg.load_deployment(store, tag)
        if found is None or found.status != "live":
            continue
        if all((found.services.get(s) or {}).get("revision") == r for s, r in revisions.items()):
            named = {lg.service_release(found, s) for s in revisions}
            return named.pop() if len(named) == 1 else None
    return None


def running_releases(
    env: Environment, live: dict[str, LiveService], store: LedgerStore | None = None
) -> dict[str, str | None]:
    """Per service, the release it runs as history recorded it: the one release history names on
    all these revisions together, else each service's own (the newest entry naming its revision),
    else its release tag when that release's record gives exactly the digest that runs (a tag
    nothing in history confirms); None: unknown."""
    store = store or env.ledger
    together = release_at(env, {s: i.live for s, i in live.items()}, store)
    if together is not None:
        return {s: together for s in live}
    out: dict[str, str | None] = {}
    for service, item in live.items():
        found = release_at(env, {service: item.live}, store)
        if found is None and item.release:
            if _release_digest(store, env.name, item.release, service) == item.digest:
                found = item.release
        out[service] = found
    return out


def previous_release(
    env: Environment, live: dict[str, LiveService], store: LedgerStore | None = None
) -> str | None:
    """The release a rollback would return to: what history recorded on the revisions the host
    keeps as previous (derived from what Azure serves, not from a tag). None when unknown."""
    deployed = {s: i for s, i in live.items() if i.deployed}
    return release_at(env, {s: i.previous for s, i in deployed.items()}, store) if deployed else None


def newest_live(store: LedgerStore, env_name: str) -> lg.DeploymentRecord | None:
    """History's newest live entry (of the newest HISTORY_DEPTH), reading entries newest first
    only until one is live."""
    for tag in sorted(store.tags(lg.history_prefix(env_name)), reverse=True)[:HISTORY_DEPTH]:
        found = lg.load_deployment(store, tag)
        if found is not None and found.status == "live":
            return found
    return None


def settle_release_tags(env: Environment, services: list[str]) -> tuple[str | None, str | None]:
    """After traffic moved outside a promotion (a rollback): (live release — lg.MIXED when the
    services run different ones —, previous release) as history recorded them on the revisions
    that serve now and the ones kept as previous — not as the tags say — and the tags rewritten
    where they say otherwise (each service's release tag: the release it runs)."""
    return settle_tags(env, {s: env.host(s).current(s) for s in services}, store=lg.ReadOnce(env.ledger))


def settle_tags(
    env: Environment,
    live: dict[str, LiveService],
    releases: dict[str, str | None] | None = None,
    store: LedgerStore | None = None,
) -> tuple[str | None, str | None]:
    """settle_release_tags for services already read (`live`: what each serves now; `releases`:
    what each runs, when already worked out; `store`: a caller's lg.ReadOnce, so history is read
    once for all the lookups)."""
    releases = releases if releases is not None else running_releases(env, live, store)
    previous = previous_release(env, live, store)
    for service, item in live.items():
        release = releases[service]
        fix = {RELEASE_TAG: release} if release and item.release != release else {}
        if (previous or None) != item.previous_release:  # unknown: no tag rather than a wrong one
            fix[PREVIOUS_RELEASE_TAG] = previous or ""
        if fix and item.deployed:
            env.host(service).record_live(service, fix)
    return lg.one_release(releases), previous


def record_rollback(env: Environment, moved: list[str], smoke: dict[str, Any]) -> str | None:
    """After `moved` (all or some of the environment's services) rolled back: their release tags
    settled, and a `rollback` entry in history that names every deployed service of the
    environment with what it runs now (revision, digest, release — the untouched ones as they
    were), so the entry serves what runs; last-known-good moves to it when the smoke checks passed.
    Its release is the one they all run, else lg.MIXED (each service names its own; None for an
    untouched one history does not know). None (nothing written) when a rolled-back service runs
    a release history does not know (deployed by hand, never promoted: nothing to point at)."""
    live = {s: i for s, i in live_digests(env).items() if i.deployed}
    store = lg.ReadOnce(env.ledger)  # the lookups below scan history several times: one read each
    releases = running_releases(env, live, store)
    moved_live = {s: live[s] for s in moved if s in live}
    settle_tags(env, moved_live, {s: releases[s] for s in moved_live}, store)
    if any(releases.get(s) is None for s in moved):
        return None
    release = lg.one_release(releases) or lg.MIXED  # an untouched service history does not know: mixed
    record = lg.DeploymentRecord(
        env.name,
        release,
        operation="rollback",
        status="live" if smoke["passed"] else "failed",
        previous_release=previous_release(env, live, store),  # what a rollback of them all returns to
        services={
            s: {
                "revision": i.live,
                "digest": i.digest,
                "previous_revision": i.previous,
                "release": releases[s],
            }
            for s, i in live.items()
        },
        gates=[
            {
                "name": "smoke",
                "kind": "smoke",
                "label": "live",
                "verdict": "pass" if smoke["passed"] else "fail",
                "evidence": smoke,
            }
        ],
    )
    return lg.record_event(env.ledger, record)


def drift(
    env: Environment, live: dict[str, LiveService] | None = None, store: LedgerStore | None = None
) -> list[dict[str, Any]]:
    """Every record that does not name what runs: [{record, service?, says, runs}]. Read-only:
    each ledger document is read once (`store`: a caller's lg.ReadOnce, already warm)."""
    live = live if live is not None else live_digests(env)
    deployed = {s: item for s, item in live.items() if item.deployed and item.digest}
    if not deployed:
        return []
    store = store or lg.ReadOnce(env.ledger)
    newest = newest_live(store, env.name)
    pointer = lg.last_known_good(store, env.name) or {}
    if newest is None and not pointer:
        return []  # nothing recorded here: an environment the ledger does not follow
    found: list[dict[str, Any]] = []
    for service, item in deployed.items():
        says = _release_digest(store, env.name, item.release, service) if item.release else None
        if item.release is None or (says is not None and says != item.digest):
            found.append(_item("release_tag", item.release, item, service))
    if newest is not None and not _serves(newest, deployed):
        found.append(_item("history", newest.release_id, None, None, deployed))
    lkg = lg.load_deployment(store, pointer["record"]) if pointer.get("record") else None
    if pointer and not _serves(lkg, deployed):
        found.append(_item("last_known_good", pointer.get("release"), None, None, deployed))
    current = newest if newest is not None and _serves(newest, deployed) else None
    return found + _previous_drift(env, live, current, store)


def _previous_drift(
    env: Environment,
    live: dict[str, LiveService],
    newest: lg.DeploymentRecord | None,
    store: LedgerStore,
) -> list[dict[str, Any]]:
    """The previous release recorded (the previous-release tag on each service; history's newest
    entry, when it names what runs) against the release history recorded on the revisions the host
    keeps as previous. Nothing is flagged when that is unknown (no previous, or never recorded)."""
    derived = previous_release(env, live, store)
    if derived is None:
        return []
    found = []
    for service, item in live.items():
        if item.deployed and item.previous_release != derived:
            found.append(
                {
                    "record": "previous_release_tag",
                    "service": service,
                    "says": item.previous_release,
                    "runs": {service: item.previous},
                    "release": derived,
                }
            )
    if newest is not None and newest.previous_release != derived:
        previous = {s: i.previous for s, i in live.items() if i.deployed}
        found.append(
            {
                "record": "previous_release",
                "says": newest.previous_release,
                "runs": previous,
                "release": derived,
            }
        )
    return found


def _release_digest(store: LedgerStore, env_name: str, release: str, service: str) -> str | None:
    """The digest `release` puts on `service`: from its release record, else from a history entry
    of it (a gated deploy records history but no release record); None when nothing says."""
    record = lg.load_release(store, release)
    if record is not None:
        return ((record.spec.get("services") or {}).get(service) or {}).get("digest")
    for tag in sorted(store.tags(lg.history_prefix(env_name)), reverse=True)[:HISTORY_DEPTH]:
        if tag.endswith("-" + release):
            found = lg.load_deployment(store, tag)
            digest = ((found.services if found else {}).get(service) or {}).get("digest")
            if digest:
                return str(digest)
    return None


def checked_drift(
    env: Environment, live: dict[str, LiveService] | None = None, store: LedgerStore | None = None
) -> dict[str, Any]:
    """For `status`: {"drift": [...]}, or {"drift": None, "drift_error": why} when the ledger
    cannot be read (status still shows what runs)."""
    from genaiops_cli.errors import GenAIOpsError

    try:
        return {"drift": drift(env, live, store)}
    except GenAIOpsError as exc:
        return {"drift": None, "drift_error": exc.message}


def _item(
    record: str,
    says: str | None,
    item: LiveService | None,
    service: str | None,
    deployed: dict[str, LiveService] | None = None,
) -> dict[str, Any]:
    runs = {service: item.digest} if item and service else {s: i.digest for s, i in (deployed or {}).items()}
    out: dict[str, Any] = {"record": record, "says": says, "runs": runs}
    if service:
        out["service"] = service
    return out


def repair(env: Environment) -> dict[str, Any]:
    """Make the records name what runs: the release tag on each service, last-known-good (only to a
    record whose gates passed), and a `repair` entry in history listing what was wrong. Moves no
    traffic. When no recorded release matches what runs, nothing is rewritten (there is nothing
    true to point at) and the result says so."""
    live = live_digests(env)
    found = drift(env, live)
    if not found:
        return {"environment": env.name, "drift": [], "repaired": [], "history": None}
    match = serving_record(env, {s: i for s, i in live.items() if i.deployed})
    if match is None:
        return {
            "environment": env.name,
            "drift": found,
            "repaired": [],
            "history": None,
            "note": "no recorded release matches what runs (deployed outside the ledger?): "
            "promote a release, or roll back, to make the records true again",
        }
    tag, record = match
    repaired = _rewrite(env, live, found, tag, record)
    entry = lg.DeploymentRecord(
        env.name,
        record.release_id,
        operation="repair",
        status="live",
        previous_release=previous_release(env, live),
        services={
            s: {
                "revision": i.live,
                "digest": i.digest,
                "previous_revision": i.previous,
                "release": lg.service_release(record, s),
            }
            for s, i in live.items()
            if i.deployed
        },
    )
    entry.override("repair", "; ".join(f"{d['record']} said {d['says']}" for d in found))
    history = lg.record_event(env.ledger, entry)  # no gates on it: last-known-good is not moved here
    return {
        "environment": env.name,
        "release": record.release_id,
        "drift": found,
        "repaired": repaired,
        "history": history,
    }


def _rewrite(
    env: Environment,
    live: dict[str, LiveService],
    found: list[dict[str, Any]],
    tag: str,
    record: lg.DeploymentRecord,
) -> list[str]:
    repaired = []
    for d in found:
        if d["record"] == "release_tag" and lg.service_release(record, d["service"]):
            release = str(lg.service_release(record, d["service"]))  # a mixed record: the service's own
            env.host(d["service"]).record_live(d["service"], {RELEASE_TAG: release})
            repaired.append(f"release_tag:{d['service']}")
        elif d["record"] == "previous_release_tag":
            env.host(d["service"]).record_live(d["service"], {PREVIOUS_RELEASE_TAG: d["release"]})
            repaired.append(f"previous_release_tag:{d['service']}")
    if any(d["record"] == "last_known_good" for d in found) and record.gates_passed():
        lg.point_lkg(env.ledger, record, tag)
        repaired.append("last_known_good")
    for what in ("history", "previous_release"):
        if any(d["record"] == what for d in found):
            repaired.append(what)  # the repair entry below becomes history's newest, naming it
    return repaired
