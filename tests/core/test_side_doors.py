"""Gated environments have no side door (issue 14, item 4), against in-memory fakes of the ports:
a `deploy` that goes live at once in an entry environment (dev: gates, no promote_from, strategy
direct) runs its gates against live and is recorded like a promotion; a failing gate rolls it back
and is recorded as failed; `--force --reason` skips the gates, recorded as an override."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from genaiops_cli.core import ledger as lg
from genaiops_cli.core import reconcile, side_doors
from genaiops_cli.errors import ExitCode, GateFailed
from tests.core.fakes import World
from tests.core.test_promote_steps import D1, D2, deploy_dev, events, promote

D3 = "sha256:" + "3" * 64


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(tmp_path)


def deploy(world: World, digest: str, forced: str | None = None) -> dict | None:
    """What `genaiops deploy -e dev` does: the host deploys, then the side-door check."""
    image = world.registries["crdev"].add("demo/agent", digest, "v")
    outcome = world.hosts["dev"].deploy("agent", image, 10, events())
    went_live = ["agent"] if outcome.action in ("created", "live") else []
    return side_doors.gate_deploy(world.envs["dev"], went_live, forced, events())


def newest(world: World) -> lg.DeploymentRecord:
    return lg.history(world.ledger("dev"), "dev", 1)[0]


def test_a_deploy_that_goes_live_in_an_entry_environment_runs_its_gates_and_is_recorded(
    world: World,
) -> None:
    dev = world.envs["dev"]
    assert side_doors.is_gated(dev.resolved) and not dev.config.promote_from
    first = deploy(world, D1)
    assert first is not None and first["gates"] == [{"name": "smoke", "verdict": "pass"}]
    assert newest(world).operation == "deploy" and newest(world).status == "live"
    assert lg.last_known_good(world.ledger("dev"), "dev")["release"] == first["release"]
    assert lg.evidence_for(world.ledger("dev"), "dev", first["release"]) is not None, "evidence to promote"
    time.sleep(0.002)
    second = deploy(world, D2)
    assert second is not None
    assert newest(world).previous_release == first["release"]
    assert world.hosts["dev"].apps["agent"].tags["genaiops-release-previous"] == first["release"]
    assert reconcile.drift(dev) == []


def test_a_deploy_failing_its_gates_is_rolled_back_and_recorded_as_failed(world: World) -> None:
    first = deploy(world, D1)
    world.broken.add(D2)
    time.sleep(0.002)
    with pytest.raises(GateFailed) as refused:
        deploy(world, D2)
    assert refused.value.exit_code == ExitCode.GATE_FAILED and "rolled back" in refused.value.message
    assert world.hosts["dev"].current("agent").digest == D1, "the ungated digest is no longer live"
    failed = newest(world)
    assert failed.status == "failed" and failed.services["agent"]["digest"] == D2
    assert refused.value.details["ledger"] and refused.value.details["release"] == failed.release_id
    assert lg.last_known_good(world.ledger("dev"), "dev")["release"] == first["release"]
    assert reconcile.drift(world.envs["dev"]) == []


def test_a_forced_deploy_skips_the_gates_and_records_the_override(world: World) -> None:
    deploy(world, D1)
    world.broken.add(D3)
    time.sleep(0.002)  # history tags are ordered by a millisecond stamp
    forced = deploy(world, D3, forced="hotfix at 3am")
    assert forced is not None and forced["forced_reason"] == "hotfix at 3am" and forced["gates"] == []
    assert world.hosts["dev"].current("agent").digest == D3
    entry = newest(world)
    assert entry.overrides[0] == {**entry.overrides[0], "what": "gates", "reason": "hotfix at 3am"}
    assert lg.evidence_for(world.ledger("dev"), "dev", forced["release"]) is None, (
        "a forced deploy is no evidence"
    )


def deploy_prod(world: World, digest: str, forced: str | None = None) -> dict | None:
    """`genaiops deploy -e prod` (promote_from: dev, blue/green): what went live, then the check."""
    image = world.registries["crprod"].add("demo/agent", digest, "v")
    outcome = world.hosts["prod"].deploy("agent", image, 10, events())
    went_live = ["agent"] if outcome.action in ("created", "live") else []
    created = ["agent"] if outcome.action == "created" else []
    return side_doors.gate_deploy(world.envs["prod"], went_live, forced, events(), created)


def prod_newest(world: World) -> lg.DeploymentRecord:
    return lg.history(world.ledger("prod"), "prod", 1)[0]


def test_a_staged_deploy_in_a_promoted_into_environment_is_left_to_its_gated_swap(world: World) -> None:
    prod = world.envs["prod"]
    assert side_doors.gate_deploy(prod, [], None, events()) is None
    assert lg.history(world.ledger("prod"), "prod", 10) == []


def test_the_first_revision_in_a_promoted_into_environment_runs_its_gates_and_is_recorded(
    world: World,
) -> None:
    assert world.envs["prod"].config.promote_from == "dev"
    first = deploy_prod(world, D1)
    assert first is not None and first["gates"] == [{"name": "smoke", "verdict": "pass"}]
    entry = prod_newest(world)
    assert (entry.operation, entry.status, entry.release_id) == ("deploy", "live", first["release"])
    assert lg.last_known_good(world.ledger("prod"), "prod")["release"] == first["release"]
    assert world.hosts["prod"].apps["agent"].tags["genaiops-release"] == first["release"]
    time.sleep(0.002)
    assert deploy_prod(world, D2) is None, "a second revision only stages: its swap is gated"
    assert world.hosts["prod"].current("agent").digest == D1


def test_a_failing_first_revision_is_removed_and_recorded_as_failed(world: World) -> None:
    world.broken.add(D1)
    with pytest.raises(GateFailed) as refused:
        deploy_prod(world, D1)
    assert refused.value.exit_code == ExitCode.GATE_FAILED
    assert "removed" in refused.value.message and refused.value.details["undone"] == {"agent": "removed"}
    assert "agent" not in world.hosts["prod"].apps, "the app this deploy created is gone"
    assert not world.hosts["prod"].current("agent").deployed
    failed = prod_newest(world)
    assert failed.status == "failed" and failed.operation == "deploy"
    assert failed.services["agent"]["digest"] == D1
    assert refused.value.details["release"] == failed.release_id
    assert lg.last_known_good(world.ledger("prod"), "prod") is None
    assert reconcile.drift(world.envs["prod"]) == []
    world.broken.clear()
    time.sleep(0.002)
    again = deploy_prod(world, D1)  # fixed (here: the target recovered): the same deploy passes
    assert again is not None and prod_newest(world).status == "live"


def test_a_failing_first_revision_of_an_app_that_existed_is_not_deleted(world: World) -> None:
    """Only what this command created is removed: an app it found (nothing live) stays."""
    world.broken.add(D1)
    image = world.registries["crprod"].add("demo/agent", D1, "v")
    world.hosts["prod"].deploy("agent", image, 10, events())
    with pytest.raises(GateFailed) as refused:
        side_doors.gate_deploy(world.envs["prod"], ["agent"], None, events(), created=[])
    assert refused.value.details["undone"] == {"agent": "kept"} and "still live" in refused.value.message
    assert "agent" in world.hosts["prod"].apps


def test_a_forced_first_revision_skips_the_gates_and_records_the_override(world: World) -> None:
    world.broken.add(D1)
    forced = deploy_prod(world, D1, forced="test setup")
    assert forced is not None and forced["gates"] == [] and forced["forced_reason"] == "test setup"
    assert world.hosts["prod"].current("agent").digest == D1
    entry = prod_newest(world)
    assert entry.status == "live" and entry.overrides[0]["reason"] == "test setup"
    assert lg.evidence_for(world.ledger("prod"), "prod", forced["release"]) is None
    assert lg.last_known_good(world.ledger("prod"), "prod") is None, "a forced release is not known-good"


def test_a_promotion_whose_first_release_fails_its_gates_leaves_no_app_behind(world: World) -> None:
    deploy_dev(world, D1)
    world.broken.add(D1)
    with pytest.raises(GateFailed) as refused:
        promote(world, force_reason="dev gates fail too")
    assert refused.value.details["undone"] == {"agent": "removed"}
    assert "agent" not in world.hosts["prod"].apps
    failed = prod_newest(world)
    assert failed.status == "failed" and failed.error["step"] == "gates"


def test_a_gated_swap_with_nothing_staged_is_refused_before_anything_runs(world: World) -> None:
    from genaiops_cli.errors import DeployError

    prod = world.envs["prod"]
    with pytest.raises(DeployError) as refused:
        side_doors.require_staged(prod, ["agent"])  # no app at all
    assert refused.value.code == "nothing_staged" and refused.value.exit_code == ExitCode.DEPLOY
    deploy_prod(world, D1)  # first revision: live, nothing staged
    with pytest.raises(DeployError):
        side_doors.require_staged(prod, ["agent"])
    deploy_prod(world, D2)
    side_doors.require_staged(prod, ["agent"])  # staged: fine


def test_a_resumed_promotion_removes_the_new_app_its_interrupted_attempt_created(world: World) -> None:
    """The first attempt created the app and was interrupted before its gates; the re-run finds the
    app there, but it is still this promotion's own: a failing gate removes it, not keeps it."""
    deploy_dev(world, D1)
    world.faults.arm("deploy:after", kind="sigint")  # the app was created, then Ctrl-C
    with pytest.raises(KeyboardInterrupt):
        promote(world, force_reason="dev gates are not the subject")
    assert "agent" in world.hosts["prod"].apps
    world.broken.add(D1)
    with pytest.raises(GateFailed) as refused:
        promote(world, force_reason="dev gates are not the subject")
    assert refused.value.details["undone"] == {"agent": "removed"}
    assert "agent" not in world.hosts["prod"].apps
