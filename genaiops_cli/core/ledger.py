"""The release ledger's model: release records, deployment records (with their step journal) and
pointers, stored by a LedgerStore as JSON documents under tags. Pure: no SDK here.

Layout per environment registry, repository `genaiops/ledger` (see docs/ledger.md):
  release-<id>                 ReleaseRecord   (immutable content; rewritten identical)
  promote-<env>-<id>           DeploymentRecord being run (the journal; updated after every step)
  deploy-<env>-<stamp>-<id>    DeploymentRecord as finished (history; never rewritten)
  lkg-<env>                    Pointer to the last-known-good deployment
  lock-<env>                   LockRecord (core/lock.py)"""

from __future__ import annotations

import datetime as dt
import os
import socket
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from genaiops_cli.core.ports import LedgerStore

LEDGER_REPOSITORY = "genaiops/ledger"
ARTIFACT_TYPES = {
    "release": "application/vnd.genaiops.ledger.release.v1+json",
    "deployment": "application/vnd.genaiops.ledger.deployment.v1+json",
    "pointer": "application/vnd.genaiops.ledger.pointer.v1+json",
    "lock": "application/vnd.genaiops.ledger.lock.v1+json",
}

# Step status values in a deployment's journal.
DONE, FAILED, SKIPPED, RUNNING = "done", "failed", "skipped", "running"

# The release id of a record whose services run different releases (after a rollback of some of an
# environment's services): no one release runs there, so the record names one per service
# (`services[s]["release"]`) and never claims a single release (not hex: no release id is "mixed").
MIXED = "mixed"


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def iso(moment: dt.datetime | None = None) -> str:
    return (moment or now()).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_iso(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def stamp(moment: dt.datetime | None = None) -> str:
    """Sortable, tag-safe time: 20250102T030405123Z."""
    return (moment or now()).strftime("%Y%m%dT%H%M%S%f")[:-3] + "Z"


def actor() -> str:
    """Who acts: GENAIOPS_ACTOR, else the CI's actor, else the local user."""
    for var in ("GENAIOPS_ACTOR", "GITHUB_ACTOR", "BUILD_REQUESTEDFOR", "USER", "USERNAME"):
        if os.environ.get(var):
            return os.environ[var]
    import getpass

    try:
        return getpass.getuser()  # the login name from the password database when no variable is set
    except (KeyError, OSError):
        return "unknown"


def origin() -> dict[str, str]:
    """Where the run happened: host, and the CI run when there is one."""
    out = {"host": socket.gethostname()}
    if os.environ.get("GITHUB_RUN_ID"):
        server = os.environ.get("GITHUB_SERVER_URL", "https://github.com")
        out["ci"] = (
            f"{server}/{os.environ.get('GITHUB_REPOSITORY', '')}/actions/runs/{os.environ['GITHUB_RUN_ID']}"
        )
    elif os.environ.get("BUILD_BUILDID"):
        out["ci"] = f"azure-pipelines build {os.environ['BUILD_BUILDID']}"
    elif os.environ.get("CI"):
        out["ci"] = "ci"
    return out


# ---------------------------------------------------------------------------- tags


def release_tag(release_id: str) -> str:
    return f"release-{release_id}"


def journal_tag(env: str, release_id: str) -> str:
    return f"promote-{env}-{release_id}"


def history_tag(env: str, when: str, release_id: str) -> str:
    return f"deploy-{env}-{when}-{release_id}"


def history_prefix(env: str) -> str:
    return f"deploy-{env}-"


def lkg_tag(env: str) -> str:
    return f"lkg-{env}"


def lock_tag(env: str) -> str:
    return f"lock-{env}"


# ---------------------------------------------------------------------------- records


@dataclass
class ReleaseRecord:
    release_id: str
    spec: dict[str, Any]
    created_at: str = field(default_factory=iso)
    created_by: str = field(default_factory=actor)
    kind: str = "release"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ReleaseRecord:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


@dataclass
class Step:
    name: str
    status: str
    at: str = field(default_factory=iso)
    attempt: int = 1
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class DeploymentRecord:
    """One promotion (or verification) of a release into an environment, with its journal."""

    environment: str
    release_id: str
    operation: str = "promote"  # promote | verify | rollback
    source: str | None = None
    status: str = "running"  # running | live | failed | refused
    actor: str = field(default_factory=actor)
    origin: dict[str, str] = field(default_factory=origin)
    started_at: str = field(default_factory=iso)
    finished_at: str | None = None
    attempt: int = 1
    previous_release: str | None = None
    services: dict[str, dict[str, Any]] = field(default_factory=dict)  # image, revision, previous revision
    # services the target had no app for when the first attempt opened the journal: a resumed
    # attempt finds the app its predecessor created, and may still remove it when the gates fail
    new_apps: list[str] = field(default_factory=list)
    environment_config: dict[str, Any] = field(default_factory=dict)  # env overrides as deployed
    gates: list[dict[str, Any]] = field(default_factory=list)  # {name, kind, verdict, evidence}
    overrides: list[dict[str, Any]] = field(default_factory=list)  # {what, reason, actor, at}
    steps: list[Step] = field(default_factory=list)
    error: dict[str, Any] | None = None
    kind: str = "deployment"

    # journal ---------------------------------------------------------------------------------
    def step(self, name: str) -> Step | None:
        for s in reversed(self.steps):
            if s.name == name:
                return s
        return None

    def is_done(self, name: str) -> bool:
        found = self.step(name)
        return found is not None and found.status == DONE

    def mark(self, name: str, status: str, **detail: Any) -> Step:
        found = self.step(name)
        if found is not None and found.attempt == self.attempt:
            found.status, found.at, found.detail = status, iso(), detail
            return found
        new = Step(name, status, attempt=self.attempt, detail=detail)
        self.steps.append(new)
        return new

    def gates_passed(self) -> bool:
        """Every gate recorded and none blocking (an evaluation not run is not a pass)."""
        return bool(self.gates) and all(g.get("verdict") == "pass" for g in self.gates)

    def override(self, what: str, reason: str) -> None:
        self.overrides.append({"what": what, "reason": reason, "actor": actor(), "at": iso()})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DeploymentRecord:
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        known["steps"] = [Step(**s) for s in data.get("steps") or []]
        return cls(**known)

    def summary(self) -> dict[str, Any]:
        return {
            "environment": self.environment,
            "release": self.release_id,
            "operation": self.operation,
            "source": self.source,
            "status": self.status,
            "actor": self.actor,
            "origin": self.origin,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "attempt": self.attempt,
            "previous_release": self.previous_release,
            "gates": [{"name": g.get("name"), "verdict": g.get("verdict")} for g in self.gates],
            "overrides": self.overrides,
            "digests": {s: v.get("digest") for s, v in self.services.items()},
            "releases": {s: service_release(self, s) for s in self.services},
            "error": (self.error or {}).get("code"),  # why a failed/refused attempt ended (history)
        }


def service_release(record: DeploymentRecord, service: str) -> str | None:
    """The release `record` names on `service`: the service's own (a mixed record names one per
    service), else the record's; None when a mixed record does not say."""
    named = (record.services.get(service) or {}).get("release")
    if named:
        return str(named)
    return None if record.release_id == MIXED else record.release_id


def one_release(releases: dict[str, str | None]) -> str | None:
    """The release id for a record naming these per-service releases: the one they share, MIXED
    when they differ, None when any is unknown (nothing true to record)."""
    found = set(releases.values())
    if not found or None in found:
        return None
    return found.pop() if len(found) == 1 else MIXED


# ---------------------------------------------------------------------------- operations


def load_deployment(store: LedgerStore, tag: str) -> DeploymentRecord | None:
    doc = store.get(tag)
    return DeploymentRecord.from_dict(doc) if doc else None


def load_release(store: LedgerStore, release_id: str) -> ReleaseRecord | None:
    doc = store.get(release_tag(release_id))
    return ReleaseRecord.from_dict(doc) if doc else None


def last_known_good(store: LedgerStore, env: str) -> dict[str, Any] | None:
    return store.get(lkg_tag(env))


def evidence_for(store: LedgerStore, env: str, release_id: str) -> DeploymentRecord | None:
    """The latest finished deployment of `release_id` in `env` whose gates all passed — unless a
    post-release watch rolled the release back after it: then its evidence no longer counts."""
    mine = [t for t in sorted(store.tags(history_prefix(env)), reverse=True) if t.endswith("-" + release_id)]
    pointer = last_known_good(store, env)
    if pointer and pointer.get("release") == release_id and pointer.get("record"):
        newer = [t for t in mine if t > pointer["record"]]
        found = load_deployment(store, pointer["record"])
        if found and found.gates_passed() and not any(_rolled_back(store, t) for t in newer):
            return found
    for tag in mine:
        found = load_deployment(store, tag)
        if found and found.operation == "watch" and found.status == ROLLED_BACK:
            return None  # it went bad after going live here: its earlier evidence no longer counts
        if found and found.status == "live" and found.gates_passed():
            return found
    return None


def _rolled_back(store: LedgerStore, tag: str) -> bool:
    found = load_deployment(store, tag)
    return bool(found and found.operation == "watch" and found.status == ROLLED_BACK)


ROLLED_BACK = "rolled-back"


def restore_last_known_good(store: LedgerStore, env: str, release_id: str) -> bool:
    """After an automatic rollback to `release_id`: point last-known-good back at its latest live
    record with passing gates (False when the ledger holds none: the pointer is left as it was)."""
    for tag in sorted(store.tags(history_prefix(env)), reverse=True):
        if tag.endswith("-" + release_id):
            found = load_deployment(store, tag)
            if found and found.status == "live" and found.gates_passed():
                point_lkg(store, found, tag)
                return True
    return False


def history(store: LedgerStore, env: str, limit: int) -> list[DeploymentRecord]:
    out = []
    for tag in sorted(store.tags(history_prefix(env)), reverse=True)[:limit]:
        found = load_deployment(store, tag)
        if found:
            out.append(found)
    return out


def record_event(store: LedgerStore, record: DeploymentRecord) -> str:
    """A change made outside a promotion (a rollback): history and last-known-good only, so the
    release's promotion journal and evidence stay as they were."""
    record.finished_at = iso()
    tag = history_tag(record.environment, stamp(), record.release_id)
    while store.get(tag) is not None:
        # an entry of the same release in the same millisecond (a watch skipped right after its
        # promotion was recorded) must not overwrite it: history is append-only
        time.sleep(0.001)
        tag = history_tag(record.environment, stamp(), record.release_id)
    store.put(tag, "deployment", record.to_dict())
    if record.status == "live" and record.gates_passed():
        point_lkg(store, record, tag)
    return tag


def finish(store: LedgerStore, record: DeploymentRecord) -> str:
    """Write the finished record to history; live ones become last-known-good; the journal last —
    it is the commit mark: a crash before it leaves the journal unfinished, so the re-run writes
    the records again instead of seeing the release as done (see `repair_records`)."""
    record.finished_at = iso()
    # a re-run after a crash between the history write and the journal rewrites the same entry
    tag = history_entry_of(store, record) or history_tag(record.environment, stamp(), record.release_id)
    store.put(tag, "deployment", record.to_dict())
    if record.status == "live" and record.gates_passed():
        point_lkg(store, record, tag)
    store.put(journal_tag(record.environment, record.release_id), "deployment", record.to_dict())
    return tag


def point_lkg(store: LedgerStore, record: DeploymentRecord, tag: str) -> None:
    """Last-known-good to `record` (at history `tag`); a mixed one's pointer names each service's
    release (`releases`), as its "release" is not one."""
    pointer = {"environment": record.environment, "release": record.release_id, "record": tag, "at": iso()}
    if record.release_id == MIXED:
        pointer["releases"] = {s: service_release(record, s) for s in record.services}
    store.put(lkg_tag(record.environment), "pointer", pointer)


def history_entry_of(store: LedgerStore, record: DeploymentRecord) -> str | None:
    """The history tag holding this very attempt (same release, start, attempt and outcome)."""
    for tag in sorted(store.tags(history_prefix(record.environment)), reverse=True):
        if tag.endswith("-" + record.release_id):
            found = load_deployment(store, tag)
            if found and (found.started_at, found.attempt, found.status) == (
                record.started_at,
                record.attempt,
                record.status,
            ):
                return tag
    return None


def repair_records(store: LedgerStore, record: DeploymentRecord) -> list[str]:
    """For a finished live run whose release is what runs: write the history entry and the
    last-known-good pointer a crash left out. Returns what was repaired (empty when nothing)."""
    repaired = []
    tag = history_entry_of(store, record)
    if tag is None:
        tag = history_tag(record.environment, stamp(), record.release_id)
        store.put(tag, "deployment", record.to_dict())
        repaired.append("history")
    pointer = last_known_good(store, record.environment) or {}
    if record.gates_passed() and pointer.get("release") != record.release_id:
        point_lkg(store, record, tag)
        repaired.append("last_known_good")
    return repaired


class ReadOnce:
    """A LedgerStore that reads each document and each listing once, for one read-only view of
    the ledger (`genaiops status`: the drift check meets the same records several times). Safe to
    share between threads: at worst two threads read the same tag. A write passes through and is
    forgotten, so nothing stale is served after it."""

    def __init__(self, store: LedgerStore) -> None:
        self.store = store
        self.location = store.location
        self._docs: dict[str, dict[str, Any] | None] = {}
        self._tags: dict[str, list[str]] = {}

    def get(self, tag: str) -> dict[str, Any] | None:
        if tag not in self._docs:
            self._docs[tag] = self.store.get(tag)
        return self._docs[tag]

    def tags(self, prefix: str = "") -> list[str]:
        if prefix not in self._tags:
            self._tags[prefix] = list(self.store.tags(prefix))
        return list(self._tags[prefix])

    def put(self, tag: str, kind: str, document: dict[str, Any]) -> str:
        self._docs.pop(tag, None)
        self._tags.clear()
        return self.store.put(tag, kind, document)
