"""Promotion as resumable steps, against in-memory fakes of the ports (tests/core/fakes.py): every
step on its own, the runner, and a failure injected at each step followed by a re-run that resumes
after the last completed step — no Docker, no stand-in."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from genaiops_cli.core import ledger as lg
from genaiops_cli.core import promote as core
from genaiops_cli.core import promote_steps as ps
from genaiops_cli.core.steps import Journal, Refused, execute, pending
from genaiops_cli.errors import DeployError, GateFailed, GenAIOpsError, UsageError
from tests.core.fakes import World

D1 = "sha256:" + "1" * 64
D2 = "sha256:" + "2" * 64


def events() -> Any:
    seen: list[tuple[str, str]] = []

    def on_event(service: str, message: str) -> None:
        seen.append((service, message))

    on_event.seen = seen  # type: ignore[attr-defined]
    return on_event


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(tmp_path)


def deploy_dev(world: World, digest: str) -> str:
    """Push `digest` to dev's registry and deploy it there (dev is direct: live at once)."""
    image = world.registries["crdev"].add("demo/agent", digest, "v")
    world.hosts["dev"].deploy("agent", image, 10, events())
    return image


def promote(world: World, **options: Any) -> dict[str, Any]:
    return core.promote(
        world.manifest,
        world.envs["dev"],
        world.envs["prod"],
        None,
        core.Options(lock_settle=0, **options),
        events(),
    )


def journal_of(world: World, result_release: str) -> lg.DeploymentRecord:
    found = lg.load_deployment(world.ledger("prod"), lg.journal_tag("prod", result_release))
    assert found is not None
    return found


# ------------------------------------------------------------------------------ whole promotions


def test_first_promotion_runs_every_step_and_records_it(world: World) -> None:
    deploy_dev(world, D1)
    result = promote(world)
    assert result["status"] == "live" and not result["resumed"]
    assert [s["name"] for s in result["steps"]] == [
        "evidence",
        "copy:agent",
        "deploy:agent",
        "gates",
        "swap:agent",
        "record",
    ]
    assert world.registries["crprod"].has("demo/agent", D1)
    assert world.hosts["prod"].current("agent").digest == D1
    assert lg.last_known_good(world.ledger("prod"), "prod")["release"] == result["release"]
    # dev had no recorded evidence and no promote_from: its gates ran against live first
    assert lg.evidence_for(world.ledger("dev"), "dev", result["release"]) is not None
    again = promote(world)
    assert again["status"] == "unchanged"


def test_blue_green_promotion_stages_gates_then_swaps(world: World) -> None:
    deploy_dev(world, D1)
    promote(world)
    deploy_dev(world, D2)
    writes_before = world.hosts["prod"].traffic_writes
    result = promote(world)
    prod = world.hosts["prod"].apps["agent"]
    assert result["steps"][2]["detail"]["action"] == "staged"
    assert result["gates"] == [{"name": "smoke", "verdict": "pass"}]
    assert prod.live == world.hosts["prod"].expected_revision("agent", f"x@{D2}")
    assert prod.previous == world.hosts["prod"].expected_revision("agent", f"x@{D1}")
    assert world.hosts["prod"].traffic_writes == writes_before + 2  # stage, then one swap write
    assert prod.tags["genaiops-release"] == result["release"]


def test_failed_gate_leaves_live_untouched_and_records_the_failure(world: World) -> None:
    deploy_dev(world, D1)
    promote(world)
    deploy_dev(world, D2)
    world.broken.add(D2)
    with pytest.raises(GenAIOpsError):
        promote(world, force_reason="dev gates fail too")
    live = world.hosts["prod"].current("agent")
    assert live.digest == D1, "prod keeps serving the previous release"
    history = lg.history(world.ledger("prod"), "prod", 5)
    assert history[0].status == "failed" and history[0].error["step"] == "gates"


def test_no_evidence_is_refused_and_force_is_recorded(world: World) -> None:
    deploy_dev(world, D1)
    world.broken.add(D1)  # dev's own gates fail: no evidence
    with pytest.raises(GateFailed) as refused:
        promote(world)
    assert refused.value.code == "no_evidence"
    assert world.hosts["prod"].apps == {}, "nothing deployed after a refusal"
    world.broken.clear()
    result = promote(world, force_reason="hotfix")
    assert result["overrides"][0]["what"] == "evidence"
    assert result["steps"][0]["detail"] == {"forced": True, "reason": "hotfix"}


# ------------------------------------------------------------------ resume after a failure at each step

FAULTS = {
    "evidence": "ledger.get:crdev:lkg",  # reading the source's evidence
    "copy:agent": "copy",
    "deploy:agent": "deploy",
    "swap:agent": "swap",
    "record": "ledger.put:crprod:deploy",  # writing the history entry
}


@pytest.mark.parametrize("step", [*FAULTS, "gates"])
def test_resume_after_a_failure_at_each_step(world: World, step: str) -> None:
    deploy_dev(world, D1)
    promote(world)
    deploy_dev(world, D2)
    if step == "gates":
        assert promote_dev_evidence(world)  # dev passed its gates for D2; then prod's gate fails
        world.broken.add(D2)
    else:
        world.faults.arm(FAULTS[step])
    with pytest.raises(GenAIOpsError) as failed:
        promote(world)
    world.broken.clear()
    assert failed.value.details["failed_step"] == step
    stuck = lg.history(world.ledger("prod"), "prod", 1)[0]
    assert stuck.status == "failed"
    if step != "record":  # a failed bookkeeping write after the swap leaves the new release live
        assert world.hosts["prod"].current("agent").digest == D1, "live untouched until the swap"
    resumed = promote(world)
    assert resumed["status"] == "live" and resumed["resumed"] and resumed["attempt"] == 2
    assert world.hosts["prod"].current("agent").digest == D2
    attempts = {s["name"]: s["attempt"] for s in resumed["steps"] if s["status"] == "done"}
    order = ["evidence", "copy:agent", "deploy:agent", "gates", "swap:agent", "record"]
    for done_before in order[: order.index(step)]:
        if done_before not in ("deploy:agent", "swap:agent"):  # these converge (re-checked each attempt)
            assert attempts[done_before] == 1, f"{done_before} was not re-run"
    assert attempts[step] == 2
    # one copy and one revision per release (D1, D2): nothing duplicated by the failure and resume
    assert world.registries["crprod"].copies == 2 and world.hosts["prod"].deploys == 2
    assert lg.last_known_good(world.ledger("prod"), "prod")["release"] == resumed["release"]


def promote_dev_evidence(world: World) -> bool:
    """Record passing gate evidence in dev for what runs there now (as a passed verify does)."""
    candidate = core.resolve_release(world.manifest, world.envs["dev"], None)
    return ps.verify_entry(world.envs["dev"], candidate, events()).gates_passed()


# ------------------------------------------------------------------------------ each step alone


def a_run(world: World, **options: Any) -> ps.Run:
    src, dst = world.envs["dev"], world.envs["prod"]
    candidate = core.resolve_release(world.manifest, src, None)
    journal = lg.DeploymentRecord("prod", candidate.release_id, source="dev")
    live = core.live_state(world.manifest, dst)
    return ps.Run(src, dst, candidate, core.Options(**options), events(), journal, live)


def test_evidence_step_runs_an_entry_environments_gates_and_writes_the_release(world: World) -> None:
    deploy_dev(world, D1)
    run = a_run(world)
    detail = ps.EvidenceStep().run(run)
    assert detail["record"]["gates"] == [{"name": "smoke", "verdict": "pass"}]
    assert lg.load_release(world.ledger("prod"), run.release_id) is not None
    world.broken.add(D1)
    world.ledger("dev").docs.clear()
    with pytest.raises(Refused):
        ps.EvidenceStep().run(a_run(world))


def test_copy_step_copies_once_by_digest(world: World) -> None:
    deploy_dev(world, D1)
    run = a_run(world)
    first = ps.CopyStep("agent").run(run)
    again = ps.CopyStep("agent").run(run)
    assert first["method"] == "blobs" and again["method"] == "present"
    assert world.registries["crprod"].copies == 1
    assert world.registries["crprod"].digest("demo/agent", f"rel-{run.release_id}") == D1


def test_stage_step_journals_the_revision_and_is_idempotent(world: World) -> None:
    deploy_dev(world, D1)
    run = a_run(world)
    ps.CopyStep("agent").run(run)
    detail = ps.StageStep("agent").run(run)
    assert detail["action"] == "created"
    assert run.journal.services["agent"]["digest"] == D1
    assert ps.StageStep("agent").run(run)["action"] == "unchanged"
    assert world.hosts["prod"].deploys == 1
    assert ps.StageStep("agent").converge and not ps.CopyStep("agent").converge


def test_gates_step_tests_the_staged_side_and_rolls_back_a_failed_live_one(world: World) -> None:
    deploy_dev(world, D1)
    run = a_run(world)
    ps.StageStep("agent").run(run)
    assert ps.GatesStep().side(run) == "live"  # first release: live at deploy
    world.broken.add(D1)
    with pytest.raises(GateFailed):
        ps.GatesStep().run(run)  # nothing previous to roll back to: the new app is removed
    assert run.journal.gates[0]["verdict"] == "fail"
    assert "agent" not in world.hosts["prod"].apps, "a brand-new app failing its gates does not stay"

    world.broken.clear()
    promote(world)
    deploy_dev(world, D2)
    staged_run = a_run(world)
    ps.StageStep("agent").run(staged_run)
    assert ps.GatesStep().side(staged_run) == "staged"
    assert ps.GatesStep().run(staged_run) == {"verdicts": {"smoke": "pass"}}
    assert world.http.requests[-1].startswith("https://agent--22222222.")


def test_swap_step_swaps_or_only_records_when_already_live(world: World) -> None:
    deploy_dev(world, D1)
    run = a_run(world)
    ps.StageStep("agent").run(run)  # first release: live already
    detail = ps.SwapStep("agent").run(run)
    assert detail["note"] == "already live"
    assert world.hosts["prod"].apps["agent"].tags["genaiops-release"] == run.release_id


def test_record_step_finishes_the_journal(world: World) -> None:
    deploy_dev(world, D1)
    run = a_run(world)
    ps.StageStep("agent").run(run)
    run.journal.gates = [{"name": "smoke", "verdict": "pass"}]
    assert ps.RecordStep().run(run) is None
    assert run.journal.status == "live" and run.history
    assert lg.last_known_good(world.ledger("prod"), "prod")["release"] == run.release_id


# ------------------------------------------------------------------------------ the runner


class Toy:
    def __init__(self, name: str, log: list[str], fail: bool = False, converge: bool = False) -> None:
        self.name, self.log, self.fail, self.converge = name, log, fail, converge

    def run(self, ctx: object) -> dict[str, Any]:
        self.log.append(self.name)
        if self.fail:
            raise DeployError(f"{self.name} broke")
        return {"n": len(self.log)}


def test_runner_skips_done_steps_reruns_converging_ones_and_journals_failures(world: World) -> None:
    store = world.ledger("prod")
    record = lg.DeploymentRecord("prod", "r1")
    log: list[str] = []
    steps = [Toy("a", log), Toy("b", log, converge=True), Toy("c", log, fail=True)]
    with pytest.raises(DeployError) as failed:
        execute(steps, None, Journal(record, store))
    assert log == ["a", "b", "c"]
    assert failed.value.details["failed_step"] == "c" and record.status == "failed"
    assert record.step("c").status == lg.FAILED
    saved = lg.load_deployment(store, lg.journal_tag("prod", "r1"))
    assert saved is not None and saved.is_done("b")

    record.attempt += 1
    steps[2].fail = False
    assert [s.name for s in pending(steps, record)] == ["b", "c"]
    log.clear()
    execute(steps, None, Journal(record, store))
    assert log == ["b", "c"]


def test_runner_records_a_refusal_as_refused(world: World) -> None:
    class Refuser:
        name, converge = "evidence", False

        def run(self, ctx: object) -> None:
            raise Refused(UsageError("no"))

    record = lg.DeploymentRecord("prod", "r2")
    with pytest.raises(UsageError):
        execute([Refuser()], None, Journal(record, world.ledger("prod")))
    assert record.status == "refused"


# ------------------------------------------------------------------ reconciliation: records follow what runs


def newest(world: World) -> lg.DeploymentRecord:
    return lg.history(world.ledger("prod"), "prod", 1)[0]


def test_a_swap_reported_failed_that_landed_is_read_back_and_recorded_live(world: World) -> None:
    deploy_dev(world, D1)
    promote(world)
    deploy_dev(world, D2)
    world.faults.arm("swap:after")  # e.g. a 500 on the operation poll after the traffic write
    result = promote(world)
    assert result["status"] == "live" and not result["resumed"]
    swap = next(s for s in result["steps"] if s["name"] == "swap:agent")
    assert "read_back" in swap["detail"]
    assert world.hosts["prod"].current("agent").digest == D2
    assert newest(world).status == "live" and newest(world).release_id == result["release"]
    assert lg.last_known_good(world.ledger("prod"), "prod")["release"] == result["release"]
    assert [r.status for r in lg.history(world.ledger("prod"), "prod", 5)] == ["live", "live"]


def test_a_swap_that_did_not_land_still_fails_and_history_has_the_failed_attempt(world: World) -> None:
    deploy_dev(world, D1)
    first = promote(world)
    deploy_dev(world, D2)
    world.faults.arm("swap")
    with pytest.raises(GenAIOpsError):
        promote(world)
    assert world.hosts["prod"].current("agent").digest == D1
    assert newest(world).status == "failed"
    assert lg.last_known_good(world.ledger("prod"), "prod")["release"] == first["release"]


def test_rollback_after_an_interrupted_promotion_then_rerun_swaps_again(world: World) -> None:
    """Killed after the swap was journaled, then an operator rolls back, then the re-run: the
    swap converges (swaps again) and history/last-known-good name what prod serves."""
    deploy_dev(world, D1)
    promote(world)
    deploy_dev(world, D2)
    world.faults.arm("ledger.put:crprod:deploy")  # the run dies in its record step, swap journaled
    with pytest.raises(GenAIOpsError):
        promote(world)
    world.hosts["prod"].rollback("agent", 10, events())
    assert world.hosts["prod"].current("agent").digest == D1
    resumed = promote(world)
    assert resumed["status"] == "live"
    assert world.hosts["prod"].current("agent").digest == D2, "the re-run did not record a lie"
    assert newest(world).release_id == resumed["release"] and newest(world).status == "live"
    assert lg.last_known_good(world.ledger("prod"), "prod")["release"] == resumed["release"]


def test_record_step_refuses_to_record_a_release_that_is_not_live(world: World) -> None:
    deploy_dev(world, D1)
    promote(world)
    deploy_dev(world, D2)
    run = a_run(world)
    ps.StageStep("agent").run(run)  # staged only: prod still serves D1
    run.journal.gates = [{"name": "smoke", "verdict": "pass"}]
    with pytest.raises(DeployError) as drift:
        ps.RecordStep().run(run)
    assert drift.value.code == "live_drift" and run.journal.status != "live"


@pytest.mark.parametrize("lost", [["history"], ["last_known_good"], ["history", "last_known_good"]])
def test_rerun_repairs_records_a_crash_left_out_instead_of_saying_unchanged(world: World, lost: list) -> None:
    deploy_dev(world, D1)
    first = promote(world)
    deploy_dev(world, D2)
    second = promote(world)
    store = world.ledger("prod")
    if "history" in lost:  # killed before its history entry was written
        del store.docs[second["history"]]
    if "last_known_good" in lost:  # killed before last-known-good moved
        store.put(lg.lkg_tag("prod"), "pointer", {"environment": "prod", "release": first["release"]})
    again = promote(world)
    assert again["status"] == "unchanged" and again["repaired"] == lost
    assert newest(world).release_id == second["release"] and newest(world).status == "live"
    assert lg.last_known_good(store, "prod")["release"] == second["release"]
    assert promote(world)["repaired"] == [], "repairing is idempotent"


def test_a_resumed_record_step_rewrites_its_history_entry_not_a_second_one(world: World) -> None:
    deploy_dev(world, D1)
    run = a_run(world)
    ps.StageStep("agent").run(run)
    run.journal.gates = [{"name": "smoke", "verdict": "pass"}]
    world.faults.arm("ledger.put:crprod:promote")  # history written, then killed before the journal
    with pytest.raises(DeployError):
        ps.RecordStep().run(run)
    ps.RecordStep().run(run)
    assert len(lg.history(world.ledger("prod"), "prod", 10)) == 1


# ------------------------------------------------------------------ drift between the ledger and what runs


def test_no_drift_after_promotions_and_history_follows_a_recorded_rollback(world: World) -> None:
    from genaiops_cli.core import reconcile

    deploy_dev(world, D1)
    promote(world)
    deploy_dev(world, D2)
    promote(world)
    assert reconcile.drift(world.envs["prod"]) == []
    back = world.hosts["prod"].rollback("agent", 10, events())
    record = lg.DeploymentRecord(
        "prod", "r-back", operation="rollback", status="live", services={"agent": {"revision": back["live"]}}
    )
    lg.record_event(world.ledger("prod"), record)
    found = [d["record"] for d in reconcile.drift(world.envs["prod"])]
    assert "history" not in found, "a rollback record (revisions, no digests) names what runs"
    assert "last_known_good" in found, "the rollback had no gates: last-known-good still names the other"


def test_a_rollback_outside_the_ledger_is_drift_and_repair_records_what_runs(world: World) -> None:
    from genaiops_cli.core import reconcile

    deploy_dev(world, D1)
    first = promote(world)
    deploy_dev(world, D2)
    second = promote(world)
    app = world.hosts["prod"].apps["agent"]
    app.live, app.previous = app.previous, app.live  # traffic moved by hand (portal, az): no record
    prod = world.envs["prod"]
    found = {d["record"]: d for d in reconcile.drift(prod)}
    assert set(found) == {"release_tag", "history", "last_known_good", "previous_release_tag"}
    assert all(found[r]["says"] == second["release"] for r in ("release_tag", "history", "last_known_good"))
    assert found["previous_release_tag"]["says"] == first["release"]
    assert found["previous_release_tag"]["release"] == second["release"], "what a rollback returns to"
    writes = world.hosts["prod"].traffic_writes
    time.sleep(0.002)  # history tags are ordered by a millisecond stamp: the repair comes after
    fixed = reconcile.repair(prod)
    assert fixed["release"] == first["release"]
    assert set(fixed["repaired"]) == {
        "release_tag:agent",
        "previous_release_tag:agent",
        "last_known_good",
        "history",
    }
    assert world.hosts["prod"].traffic_writes == writes, "a repair moves no traffic"
    assert world.hosts["prod"].current("agent").digest == D1
    assert reconcile.drift(prod) == []
    assert newest(world).operation == "repair" and newest(world).overrides[0]["what"] == "repair"
    assert newest(world).previous_release == second["release"]
    assert world.hosts["prod"].apps["agent"].tags["genaiops-release-previous"] == second["release"]
    assert lg.last_known_good(world.ledger("prod"), "prod")["release"] == first["release"]
    assert reconcile.repair(prod)["repaired"] == [], "nothing left to repair"


def test_repair_rewrites_nothing_when_no_release_matches_what_runs(world: World) -> None:
    from genaiops_cli.core import reconcile

    deploy_dev(world, D1)
    promote(world)
    world.hosts["prod"].deploy("agent", f"crprod.azurecr.io/demo/agent@{D2}", 10, events())
    world.hosts["prod"].swap("agent", events())  # an ungated digest live, never recorded
    fixed = reconcile.repair(world.envs["prod"])
    assert fixed["repaired"] == [] and "no recorded release" in fixed["note"]
    assert {d["record"] for d in fixed["drift"]} >= {"history", "last_known_good"}


# ------------------------------------------------------------------ the previous release follows what runs


def test_the_previous_release_is_what_ran_before_not_last_known_good(world: World) -> None:
    """A promotion records as previous the release live before it (what a rollback returns to),
    even when last-known-good names another one."""
    deploy_dev(world, D1)
    first = promote(world)
    store = world.ledger("prod")
    store.put(lg.lkg_tag("prod"), "pointer", {"environment": "prod", "release": "someother"})
    deploy_dev(world, D2)
    second = promote(world)
    assert newest(world).previous_release == first["release"]
    assert world.hosts["prod"].apps["agent"].tags["genaiops-release-previous"] == first["release"]
    assert lg.last_known_good(store, "prod")["release"] == second["release"]


@pytest.mark.parametrize("wrong", ["tag", "history", "both"])
def test_a_wrong_previous_release_is_drift_and_repair_rewrites_it(world: World, wrong: str) -> None:
    from genaiops_cli.core import reconcile

    deploy_dev(world, D1)
    first = promote(world)
    deploy_dev(world, D2)
    second = promote(world)
    prod, store = world.envs["prod"], world.ledger("prod")
    if wrong in ("tag", "both"):  # e.g. a plain swap or an old version rewrote the app's tags
        world.hosts["prod"].apps["agent"].tags["genaiops-release-previous"] = "bogus"
    if wrong in ("history", "both"):  # e.g. recorded from last-known-good instead of what ran
        entry = lg.load_deployment(store, second["history"])
        entry.previous_release = "bogus"
        store.put(second["history"], "deployment", entry.to_dict())
    found = {d["record"]: d for d in reconcile.drift(prod)}
    expected = {"tag": {"previous_release_tag"}, "history": {"previous_release"}}
    assert set(found) == expected.get(wrong, {"previous_release_tag", "previous_release"})
    assert all(d["says"] == "bogus" and d["release"] == first["release"] for d in found.values())
    writes = world.hosts["prod"].traffic_writes
    time.sleep(0.002)
    fixed = reconcile.repair(prod)
    assert fixed["release"] == second["release"] and world.hosts["prod"].traffic_writes == writes
    assert reconcile.drift(prod) == []
    assert newest(world).operation == "repair" and newest(world).previous_release == first["release"]
    assert "previous_release" in newest(world).overrides[0]["reason"]
    assert world.hosts["prod"].apps["agent"].tags["genaiops-release-previous"] == first["release"]
    # and the rollback that relies on it records the release that then runs
    back = world.hosts["prod"].rollback("agent", 10, events())
    assert back["release"] == first["release"] and back["rolled_back_release"] == second["release"]


def test_settling_tags_after_a_rollback_names_what_runs_even_when_the_tags_lied(world: World) -> None:
    from genaiops_cli.core import reconcile

    deploy_dev(world, D1)
    first = promote(world)
    deploy_dev(world, D2)
    second = promote(world)
    world.hosts["prod"].apps["agent"].tags["genaiops-release-previous"] = "bogus"
    world.hosts["prod"].rollback("agent", 10, events())  # the tags swap: release says "bogus"
    assert world.hosts["prod"].current("agent").release == "bogus"
    assert reconcile.settle_release_tags(world.envs["prod"], ["agent"]) == (
        first["release"],
        second["release"],
    )
    now = world.hosts["prod"].current("agent")
    assert (now.release, now.previous_release) == (first["release"], second["release"])
