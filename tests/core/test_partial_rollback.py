"""A rollback of some of an environment's services leaves records that name what runs: its history
entry names every service (the untouched ones as they were), a mixed state says so (release
`mixed`, each service's own release), last-known-good follows it, each service's release tag is
the release it runs — and a later promotion, a full rollback and `repair` still hold. Against
in-memory fakes of our ports (tests/core/fakes.py), two services promoted dev → prod."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from genaiops_cli.core import ledger as lg
from genaiops_cli.core import promote as core
from genaiops_cli.core import reconcile, traffic_moves
from tests.core.fakes import MANIFEST, World, with_service
from tests.core.test_promote_steps import D1, D2, events

D3 = "sha256:" + "3" * 64
SERVICES = ["agent", "web"]
TWO_SERVICES = with_service(MANIFEST, "web", smoke=True)
SMOKE = {"passed": True, "checks": []}


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(tmp_path, manifest=TWO_SERVICES)


def release(world: World, digest: str) -> str:
    """`digest` on both services in dev, promoted to prod; its release id."""
    for service in SERVICES:
        image = world.registries["crdev"].add(f"demo/{service}", digest, "v")
        world.hosts["dev"].deploy(service, image, 10, events())
    result = core.promote(
        world.manifest, world.envs["dev"], world.envs["prod"], None, core.Options(lock_settle=0), events()
    )
    assert result["status"] == "live"
    time.sleep(0.002)  # history tags are ordered by a millisecond stamp
    return str(result["release"])


def rollback(world: World, services: list[str]) -> str | None:
    """What `genaiops rollback -e prod SERVICES` does: the move, then its record."""
    prod = world.envs["prod"]
    traffic_moves.rollback_all(prod, traffic_moves.plan_rollback(prod, services), 10, events())
    tag = reconcile.record_rollback(prod, services, SMOKE)
    time.sleep(0.002)
    return tag


def newest(world: World) -> lg.DeploymentRecord:
    return lg.history(world.ledger("prod"), "prod", 1)[0]


def runs(world: World) -> dict[str, str | None]:
    return {s: world.hosts["prod"].current(s).digest for s in SERVICES}


def tags(world: World) -> dict[str, tuple[str | None, str | None]]:
    return {s: (i.release, i.previous_release) for s in SERVICES for i in [world.hosts["prod"].current(s)]}


def lkg(world: World) -> dict[str, Any]:
    pointer = lg.last_known_good(world.ledger("prod"), "prod")
    assert pointer is not None
    return pointer


def test_rolling_back_one_of_two_services_records_what_each_runs(world: World) -> None:
    r1, r2 = release(world, D1), release(world, D2)
    rollback(world, ["agent"])
    assert runs(world) == {"agent": D1, "web": D2}
    prod = world.envs["prod"]
    assert reconcile.drift(prod) == [], "status right after the rollback: no drift"
    entry = newest(world)
    assert (entry.operation, entry.status, entry.release_id) == ("rollback", "live", lg.MIXED)
    assert {s: (v["digest"], v["release"]) for s, v in entry.services.items()} == {
        "agent": (D1, r1),
        "web": (D2, r2),
    }, "every service named, the untouched one as it was"
    assert entry.services["web"]["revision"] == world.hosts["prod"].apps["web"].live
    assert entry.previous_release is None, "a rollback of both would not return to one release"
    assert entry.summary()["releases"] == {"agent": r1, "web": r2}
    pointer = lkg(world)
    assert pointer["release"] == lg.MIXED and pointer["releases"] == {"agent": r1, "web": r2}
    assert lg.evidence_for(world.ledger("prod"), "prod", r1).operation == "promote", (
        "a mixed state is evidence for no release"
    )
    assert tags(world) == {"agent": (r1, r2), "web": (r2, r1)}, "each tag: what that service runs"
    live = reconcile.live_digests(prod)
    assert reconcile.release_at(prod, {s: i.live for s, i in live.items()}) is None, "not one release"
    assert reconcile.release_at(prod, {"agent": live["agent"].live}) == r1


def test_rolling_back_the_other_service_too_is_one_release_again(world: World) -> None:
    r1, r2 = release(world, D1), release(world, D2)
    rollback(world, ["agent"])
    rollback(world, ["web"])
    assert runs(world) == {"agent": D1, "web": D1}
    assert reconcile.drift(world.envs["prod"]) == []
    entry = newest(world)
    assert (entry.release_id, entry.previous_release) == (r1, r2)
    assert lkg(world)["release"] == r1 and "releases" not in lkg(world)
    assert tags(world) == {"agent": (r1, r2), "web": (r1, r2)}


def test_a_full_rollback_after_a_partial_one_is_recorded_as_what_runs(world: World) -> None:
    """Each service returns to its own previous revision: agent forward to the second release,
    web back to the first — mixed again, and said so."""
    r1, r2 = release(world, D1), release(world, D2)
    rollback(world, ["agent"])
    assert rollback(world, SERVICES) is not None
    assert runs(world) == {"agent": D2, "web": D1}
    assert reconcile.drift(world.envs["prod"]) == []
    entry = newest(world)
    assert entry.release_id == lg.MIXED
    assert {s: v["release"] for s, v in entry.services.items()} == {"agent": r2, "web": r1}
    assert lkg(world)["releases"] == {"agent": r2, "web": r1}
    # a rollback of both would return each to another release: no one previous release to tag
    assert tags(world) == {"agent": (r2, None), "web": (r1, None)}
    assert entry.previous_release is None


def test_a_promotion_after_a_partial_rollback_and_its_rollback(world: World) -> None:
    r1, r2 = release(world, D1), release(world, D2)
    rollback(world, ["agent"])
    r3 = release(world, D3)
    prod = world.envs["prod"]
    assert runs(world) == {"agent": D3, "web": D3}
    assert reconcile.drift(prod) == []
    assert lkg(world)["release"] == r3 and newest(world).previous_release is None
    rollback(world, SERVICES)  # back to the mixed state the promotion replaced
    assert runs(world) == {"agent": D1, "web": D2}
    assert reconcile.drift(prod) == []
    entry = newest(world)
    assert entry.release_id == lg.MIXED and entry.previous_release == r3
    assert {s: v["release"] for s, v in entry.services.items()} == {"agent": r1, "web": r2}
    assert tags(world) == {"agent": (r1, r3), "web": (r2, r3)}


def test_promoting_the_rolled_back_release_again_rolls_forward(world: World) -> None:
    r1, r2 = release(world, D1), release(world, D2)
    rollback(world, ["agent"])
    assert release(world, D2) == r2
    assert runs(world) == {"agent": D2, "web": D2}
    assert reconcile.drift(world.envs["prod"]) == []
    assert lkg(world)["release"] == r2
    # web was not swapped: it keeps the first release's revision as previous, as agent does now
    assert newest(world).previous_release == r1
    assert tags(world) == {"agent": (r2, r1), "web": (r2, r1)}
    rollback(world, SERVICES)
    assert runs(world) == {"agent": D1, "web": D1} and newest(world).release_id == r1
    assert reconcile.drift(world.envs["prod"]) == []


def test_repair_after_a_partial_rollback_rewrites_each_service_with_its_own_release(world: World) -> None:
    r1, r2 = release(world, D1), release(world, D2)
    rollback(world, ["agent"])
    prod, store = world.envs["prod"], world.ledger("prod")
    world.hosts["prod"].apps["agent"].tags["genaiops-release"] = r2  # as an older genaiops left it
    store.put(lg.lkg_tag("prod"), "pointer", {"environment": "prod", "release": r2, "record": "gone"})
    found = {d["record"] for d in reconcile.drift(prod)}
    assert found == {"release_tag", "last_known_good"}
    fixed = reconcile.repair(prod)
    assert fixed["release"] == lg.MIXED
    assert set(fixed["repaired"]) == {"release_tag:agent", "last_known_good"}
    assert tags(world)["agent"][0] == r1, "the release agent runs, not 'mixed'"
    assert lkg(world)["releases"] == {"agent": r1, "web": r2}
    assert newest(world).operation == "repair" and newest(world).summary()["releases"] == {
        "agent": r1,
        "web": r2,
    }
    assert reconcile.drift(prod) == []


def test_a_partial_rollback_whose_smoke_failed_moves_no_pointer(world: World) -> None:
    release(world, D1)
    r2 = release(world, D2)
    prod = world.envs["prod"]
    traffic_moves.rollback_all(prod, traffic_moves.plan_rollback(prod, ["agent"]), 10, events())
    reconcile.record_rollback(prod, ["agent"], {"passed": False, "checks": []})
    entry = newest(world)
    assert (entry.status, entry.release_id) == ("failed", lg.MIXED)
    assert lkg(world)["release"] == r2, "not verified: last-known-good stays"
    assert {d["record"] for d in reconcile.drift(prod)} == {"history", "last_known_good"}


def test_an_untouched_service_deployed_by_hand_is_named_with_no_release(world: World) -> None:
    r1 = release(world, D1)
    release(world, D2)
    host = world.hosts["prod"]
    host.deploy("web", world.registries["crprod"].add("demo/web", D3, "v"), 10, events())
    host.swap("web", events())  # put live by hand: no record, its tag still says the second release
    rollback(world, ["agent"])
    entry = newest(world)
    assert entry.release_id == lg.MIXED and entry.services["web"]["digest"] == D3
    assert {s: v["release"] for s, v in entry.services.items()} == {"agent": r1, "web": None}
    found = {(d["record"], d.get("service")) for d in reconcile.drift(world.envs["prod"])}
    # what the hand swap made wrong (web's tags), not the rollback's records
    assert found == {("release_tag", "web"), ("previous_release_tag", "web")}


def test_a_gated_swap_of_one_service_records_the_release_the_environment_runs(world: World) -> None:
    """The same for a swap (or a deploy) of some services: its entry names every service, and its
    release is the one the environment runs as a whole (both digests), tagged on both."""
    from genaiops_cli.core import side_doors
    from genaiops_cli.core.release import release_id, release_spec

    release(world, D1)
    for service in SERVICES:  # the next release staged beside live on both
        image = world.registries["crprod"].add(f"demo/{service}", D2, "v")
        world.hosts["prod"].deploy(service, image, 10, events())
    prod = world.envs["prod"]
    traffic_moves.swap_all(prod, traffic_moves.plan_swap(prod, ["agent"]), events())
    passed = [{"name": "smoke", "kind": "smoke", "verdict": "pass"}]
    rid, _ = side_doors.record(prod, "swap", ["agent"], "live", passed, None)
    assert rid == release_id(release_spec(world.manifest, {"agent": D2, "web": D1}))
    entry = newest(world)
    assert entry.release_id == rid and {s: v["digest"] for s, v in entry.services.items()} == {
        "agent": D2,
        "web": D1,
    }
    assert reconcile.drift(prod) == [] and lkg(world)["release"] == rid
    assert tags(world)["agent"][0] == tags(world)["web"][0] == rid
