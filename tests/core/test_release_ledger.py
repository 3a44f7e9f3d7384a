"""Release identity, ledger serialization and the lock's rules, against an in-memory store."""

from __future__ import annotations

from pathlib import Path

import pytest

from genaiops_cli.core import ledger as lg
from genaiops_cli.core import lock as locks
from genaiops_cli.core.release import canonical_json, digest_of, release_id, release_spec, spec_delta
from genaiops_cli.errors import LockedError, UsageError

REPO = Path(__file__).resolve().parents[2]
D1 = "sha256:" + "1" * 64
D2 = "sha256:" + "2" * 64


@pytest.fixture(scope="module")
def manifest():
    from genaiops_cli.core.manifest.loader import load_manifest

    return load_manifest(REPO / "templates" / "agent" / "genaiops.yaml")


class MemoryStore:
    location = "memory"

    def __init__(self) -> None:
        self.docs: dict[str, bytes] = {}

    def put(self, tag: str, kind: str, document: dict) -> str:
        self.docs[tag] = canonical_json(document)
        return tag

    def get(self, tag: str) -> dict | None:
        import json

        return json.loads(self.docs[tag]) if tag in self.docs else None

    def tags(self, prefix: str = "") -> list[str]:
        return [t for t in self.docs if t.startswith(prefix)]


def test_release_id_is_stable_and_content_addressed(manifest) -> None:
    a = release_spec(manifest, {"agent": D1})
    assert release_id(a) == release_id(release_spec(manifest, {"agent": D1}))
    assert len(release_id(a)) == 12
    assert release_id(a) != release_id(release_spec(manifest, {"agent": D2}))
    assert release_id(a) != release_id(release_spec(manifest, {"agent": D1}, {"quality": "x"}))
    # environment overrides (prod's cpu) are not part of the release: one id from dev to prod
    assert a["services"]["agent"]["config"]["resources"] == {"cpu": 0.5, "memory": "1Gi"}
    assert canonical_json({"b": 1, "a": [1, 2]}) == b'{"a":[1,2],"b":1}'


def test_spec_delta_and_digest_of() -> None:
    assert spec_delta({"a": {"b": 1, "c": 2}}, {"a": {"b": 1, "c": 3}}) == [{"path": "a.c", "a": 2, "b": 3}]
    assert digest_of(f"r.io/x@{D1}") == D1 and digest_of("r.io/x:1") is None


def test_deployment_record_round_trip_and_journal() -> None:
    rec = lg.DeploymentRecord("prod", "abc", source="staging")
    rec.mark("copy:agent", lg.DONE, blobs=3)
    rec.mark("deploy:agent", lg.FAILED, error="stuck")
    rec.attempt = 2
    rec.mark("deploy:agent", lg.DONE)
    back = lg.DeploymentRecord.from_dict(__import__("json").loads(canonical_json(rec.to_dict())))
    assert back.is_done("copy:agent") and back.is_done("deploy:agent")
    assert [s.attempt for s in back.steps] == [1, 1, 2]
    assert not back.gates_passed(), "no gates recorded is not a pass"
    back.gates = [{"name": "smoke", "verdict": "pass"}, {"name": "quality", "verdict": "not_run"}]
    assert not back.gates_passed(), "an evaluation not run is not a pass"


def test_evidence_and_last_known_good() -> None:
    store = MemoryStore()
    rec = lg.DeploymentRecord("staging", "r1", status="live", gates=[{"name": "smoke", "verdict": "pass"}])
    tag = lg.finish(store, rec)
    assert tag.startswith("deploy-staging-") and tag.endswith("-r1")
    assert lg.last_known_good(store, "staging")["release"] == "r1"
    assert lg.evidence_for(store, "staging", "r1") is not None
    assert lg.evidence_for(store, "staging", "r2") is None
    failed = lg.DeploymentRecord(
        "staging", "r2", status="failed", gates=[{"name": "smoke", "verdict": "fail"}]
    )
    lg.finish(store, failed)
    assert lg.evidence_for(store, "staging", "r2") is None
    assert lg.last_known_good(store, "staging")["release"] == "r1", "a failure does not move last-known-good"
    assert [r.release_id for r in lg.history(store, "staging", 10)] == ["r2", "r1"]


def test_lock_excludes_names_holder_and_expires() -> None:
    store = MemoryStore()
    held = locks.acquire(store, "prod", "promote", reason="r1", settle=0, sleep=lambda s: None)
    with pytest.raises(LockedError) as exc:
        locks.acquire(store, "prod", "promote", settle=0, sleep=lambda s: None)
    assert held.claim.owner in exc.value.message and exc.value.exit_code == 11
    with pytest.raises(UsageError):
        locks.acquire(store, "prod", "promote", break_lock=" ", settle=0, sleep=lambda s: None)
    broke = locks.acquire(store, "prod", "promote", break_lock="holder died", settle=0, sleep=lambda s: None)
    assert broke.claim.broke["reason"] == "holder died"
    locks.release(held)  # the old holder's release must not free the new holder's lock
    assert locks.read(store, "prod").nonce == broke.claim.nonce and locks.read(store, "prod").state == "held"
    locks.release(broke)
    assert locks.read(store, "prod").state == "released"
    stale = locks.acquire(store, "dev", "deploy", ttl=-1, settle=0, sleep=lambda s: None)
    assert not locks.read(store, "dev").is_active()
    taken = locks.acquire(store, "dev", "deploy", settle=0, sleep=lambda s: None)
    assert taken.claim.broke["reason"] == "expired" and stale.claim.nonce != taken.claim.nonce


def test_lock_loses_when_a_competitor_writes_during_settle() -> None:
    store = MemoryStore()

    def competitor_writes(_: float) -> None:
        rival = locks.new_claim("prod", "promote", "rival", 60)
        store.put(lg.lock_tag("prod"), "lock", rival.to_dict())

    with pytest.raises(LockedError):
        locks.acquire(store, "prod", "promote", settle=0, sleep=competitor_writes)
