"""The Container Apps job host (core/hosts/containerapp_job.py) against an in-memory fake of the
ContainerAppJobsApi port, and a promotion of an app plus a job through the real promotion steps:
deploy by digest is idempotent (no write when nothing changed), rollback writes the previous image
back, swap/restart/endpoint refuse with a reason, and a promotion writes the job only after the
target's gates passed — a failed gate leaves the job running its previous image."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from genaiops_cli.core import job_runs
from genaiops_cli.core import promote as core
from genaiops_cli.core.environment import open_environment
from genaiops_cli.core.hosts.containerapp_job import ContainerAppJobHost
from genaiops_cli.core.manifest.loader import load_manifest
from genaiops_cli.core.ports import RELEASE_TAG, Host
from genaiops_cli.errors import DeployError, ExitCode, GenAIOpsError
from tests.core.fakes import MANIFEST, MemoryCloud, World

D1 = "sha256:" + "1" * 64
D2 = "sha256:" + "2" * 64
JOB = """\
  nightly:
    build: {context: src/agent}
    repository: demo/nightly
    host: containerapp-job
    trigger: {type: schedule, cron: "0 2 * * *", parallelism: 2, completions: 2, replica_timeout: 300}
    env: {MODEL: small}
"""


class MemoryJobs:
    """Microsoft.App/jobs in memory: PUT replaces, PATCH merges tags, executions end as told."""

    def __init__(self) -> None:
        self.jobs: dict[str, dict[str, Any]] = {}
        self.writes = 0
        self.runs: dict[str, list[dict[str, Any]]] = {}
        self.outcome = "Succeeded"

    def managed_environment(self, name: str) -> dict[str, Any]:
        return {
            "id": f"/subscriptions/s/resourceGroups/rg/providers/Microsoft.App/managedEnvironments/{name}",
            "location": "eastus2",
            "properties": {"defaultDomain": "x.test"},
        }

    def connected_environment(self, name: str) -> dict[str, Any]:
        raise AssertionError("not used")

    def get_job(self, name: str) -> dict[str, Any] | None:
        return copy.deepcopy(self.jobs.get(name))

    def put_job(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        self.writes += 1
        self.jobs[name] = copy.deepcopy(body)
        return copy.deepcopy(body)

    def patch_job(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        self.writes += 1
        self.jobs[name]["tags"] = dict(body["tags"])
        return copy.deepcopy(self.jobs[name])

    def delete_job(self, name: str) -> None:
        self.jobs.pop(name, None)

    def start(self, name: str) -> str:
        runs = self.runs.setdefault(name, [])
        execution = f"{name}-e{len(runs)}"
        runs.insert(0, {"name": execution, "properties": {"status": "Running", "startTime": f"t{len(runs)}"}})
        return execution

    def executions(self, name: str) -> list[dict[str, Any]]:
        return copy.deepcopy(self.runs.get(name, []))

    def execution(self, name: str, execution: str) -> dict[str, Any] | None:
        for run in self.runs.get(name, []):
            if run["name"] == execution:
                run["properties"]["status"] = self.outcome  # ends on the next read
                return copy.deepcopy(run)
        return None

    def stop_execution(self, name: str, execution: str) -> None:
        pass

    def logs(self, name: str, execution: str, tail: int) -> list[dict[str, Any]]:
        return [
            {"replica": f"{execution}-r0", "container": "nightly", "lines": [{"time": None, "text": "boom"}]}
        ]

    def image(self, name: str) -> str:
        return self.jobs[name]["properties"]["template"]["containers"][0]["image"]


@pytest.fixture
def world(tmp_path: Path) -> World:
    w = World(tmp_path)
    (tmp_path / "genaiops.yaml").write_text(MANIFEST.replace("environments:\n", JOB + "environments:\n"))
    w.manifest = load_manifest(tmp_path / "genaiops.yaml")
    w.jobs = {"dev": MemoryJobs(), "prod": MemoryJobs()}  # type: ignore[attr-defined]

    def opened(name: str) -> Any:
        factories = {
            "containerapp": lambda e, t: w.hosts[name],
            "containerapp-job": lambda e, t: ContainerAppJobHost(e, w.jobs[name]),  # type: ignore[attr-defined]
        }
        return open_environment(w.manifest, name, MemoryCloud(w), factories, provisioned=None)

    w.open = opened  # type: ignore[method-assign]
    w.envs = {name: w.open(name) for name in ("dev", "prod")}
    return w


def quiet(service: str, message: str) -> None:
    pass


def image(digest: str, server: str = "crprod.azurecr.io") -> str:
    return f"{server}/demo/nightly@{digest}"


def test_deploy_is_by_digest_idempotent_and_carries_the_trigger(world: World) -> None:
    h = world.envs["prod"].host("nightly")
    api: MemoryJobs = world.jobs["prod"]  # type: ignore[attr-defined]
    assert isinstance(h, Host) and h.kind == "containerapp-job"
    first = h.deploy("nightly", image(D1), 5, quiet)
    assert first.action == "created" and first.revision == h.expected_revision("nightly", image(D1))
    body = api.jobs["demo-nightly"]
    config = body["properties"]["configuration"]
    assert config["triggerType"] == "Schedule" and config["replicaTimeout"] == 300
    assert config["scheduleTriggerConfig"] == {
        "cronExpression": "0 2 * * *",
        "parallelism": 2,
        "replicaCompletionCount": 2,
    }
    assert config["registries"] == [{"server": "crprod.azurecr.io", "identity": "system"}]
    assert body["properties"]["template"]["containers"][0]["env"] == [{"name": "MODEL", "value": "small"}]

    again = h.deploy("nightly", image(D1), 5, quiet)
    assert again.action == "unchanged" and api.writes == 1, "same digest and settings: no write"
    second = h.deploy("nightly", image(D2), 5, quiet)
    assert second.action == "live" and api.writes == 2 and api.image("demo-nightly") == image(D2)
    live = h.current("nightly")
    assert (live.live, live.digest, live.matches_manifest) == (second.revision, D2, True)
    assert h.remove("nightly", quiet)["removed"] and "demo-nightly" not in api.jobs
    assert not h.current("nightly").deployed and h.remove("nightly", quiet)["removed"] is False


def test_rollback_writes_the_previous_image_back_and_swaps_the_release_tags(world: World) -> None:
    h = world.envs["prod"].host("nightly")
    api: MemoryJobs = world.jobs["prod"]  # type: ignore[attr-defined]
    with pytest.raises(DeployError) as nothing:
        h.rollback_plan("nightly")
    assert nothing.value.code == "not_deployed"
    first = h.deploy("nightly", image(D1), 5, quiet)
    with pytest.raises(DeployError) as alone:
        h.rollback("nightly", 5, quiet)
    assert alone.value.code == "no_previous"
    h.record_live("nightly", {RELEASE_TAG: "r1"})
    second = h.deploy("nightly", image(D2), 5, quiet)
    h.record_live("nightly", {RELEASE_TAG: "r2", "genaiops-release-previous": "r1"})
    assert h.rollback_plan("nightly") == {
        "service": "nightly",
        "live": second.revision,
        "previous": first.revision,
    }
    back = h.rollback("nightly", 5, quiet)
    assert api.image("demo-nightly") == image(D1) and back["live"] == first.revision
    assert (back["release"], back["rolled_back_release"]) == ("r1", "r2")
    assert h.current("nightly").release == "r1"


def test_what_a_job_cannot_do_is_refused_with_a_reason(world: World) -> None:
    h = world.envs["prod"].host("nightly")
    h.deploy("nightly", image(D1), 5, quiet)
    for call, code in (
        (lambda: h.swap("nightly", quiet), "swap_unsupported"),
        (lambda: h.restart("nightly", None, 5, quiet), "restart_unsupported"),
        (lambda: h.endpoint("nightly", "live"), "no_endpoint"),
    ):
        with pytest.raises(DeployError) as refused:
            call()
        assert (
            refused.value.code == code and refused.value.exit_code == ExitCode.DEPLOY and refused.value.hint
        )


def test_job_run_waits_for_the_result_and_a_failure_is_exit_7_with_the_log_tail(world: World) -> None:
    env = world.envs["prod"]
    env.host("nightly").deploy("nightly", image(D1), 5, quiet)
    started = job_runs.start(env, "nightly")
    assert job_runs.wait(env, "nightly", started["execution"], 5)["status"] == "Succeeded"
    world.jobs["prod"].outcome = "Failed"  # type: ignore[attr-defined]
    failed = job_runs.start(env, "nightly")
    with pytest.raises(DeployError) as caught:
        job_runs.wait(env, "nightly", failed["execution"], 5)
    assert caught.value.code == "job_failed" and caught.value.details["log_tail"] == ["boom"]
    listed = job_runs.status(env, "nightly", None)
    assert [e["name"] for e in listed["executions"]] == [failed["execution"], started["execution"]]
    assert job_runs.logs(env, "nightly", None, 10)["execution"] == failed["execution"]
    with pytest.raises(GenAIOpsError) as not_a_job:
        job_runs.start(env, "agent")
    assert not_a_job.value.exit_code == ExitCode.USAGE and "nightly" in (not_a_job.value.hint or "")


def ship_dev(world: World, digest: str) -> None:
    for repo, service in (("demo/agent", "agent"), ("demo/nightly", "nightly")):
        img = world.registries["crdev"].add(repo, digest, "v")
        world.envs["dev"].host(service).deploy(service, img, 10, quiet)


def promote(world: World, **options: Any) -> dict[str, Any]:
    return core.promote(
        world.manifest,
        world.envs["dev"],
        world.envs["prod"],
        None,
        core.Options(lock_settle=0, **options),
        quiet,
    )


def test_promotion_copies_the_digest_and_writes_the_job_only_after_the_gates(world: World) -> None:
    ship_dev(world, D1)
    result = promote(world)
    names = [s["name"] for s in result["steps"]]
    assert names.index("swap:nightly") > names.index("gates") > names.index("deploy:nightly")
    prod: MemoryJobs = world.jobs["prod"]  # type: ignore[attr-defined]
    assert prod.image("demo-nightly") == image(D1) and world.registries["crprod"].has("demo/nightly", D1)
    assert prod.jobs["demo-nightly"]["tags"][RELEASE_TAG] == result["release"]

    ship_dev(world, D2)
    world.broken.add(D2)  # the app's staged revision fails prod's smoke gate
    with pytest.raises(GenAIOpsError):
        promote(world, force_reason="dev's gates fail too")
    assert prod.image("demo-nightly") == image(D1), "a refused promotion never changes what the job runs"
