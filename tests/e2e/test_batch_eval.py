"""`genaiops eval --batch` end to end in the stand-in: the runner image is built and pushed by
digest to the environment's registry, the calls are sharded into the environment's storage account,
a Container Apps Job execution runs one replica per shard (real containers, managed identity for
Blob, the service reached through the environment's ingress), and the aggregate equals a local run
on the same rows — also when a shard fails once and is retried."""

from __future__ import annotations

import pytest

from .conftest import Project, Sandbox, own_project

QUALITY = ("exact_match", "token_f1", "error_rate")  # latency is measured where the calls are sent


@pytest.fixture(scope="module")
def project(sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Project:
    project = own_project(sandbox, tmp_path_factory.mktemp("batch"), ("dev",), prefix="batch")
    assert project.run("build", "--push", "-e", "dev").code == 0
    deployed = project.run("-o", "json", "deploy", "-e", "dev", "--timeout", "60")
    assert deployed.code == 0, deployed.stderr[-3000:]
    return project


def ok(run) -> dict:
    assert run.code == 0, run.stderr[-4000:] + run.stdout[-3000:]
    return run.json()["result"]


def _summary(result: dict) -> dict:
    ev = result["evaluations"][0]
    return {
        "verdict": result["verdict"],
        "metrics": {k: v for k, v in ev["metrics"].items() if k in QUALITY},
        "gates": {g["name"]: g["verdict"] for g in ev["gates"] if "latency" not in g["name"]},
        "rows": ev.get("rows") or ev.get("calls"),
    }


def test_batch_aggregate_equals_the_local_run(project: Project, tmp_path) -> None:
    local = ok(project.run("-o", "json", "eval", "quality", "-e", "dev", "--label", "live"))
    run = project.run(
        "-o", "json", "eval", "quality", "-e", "dev", "--label", "live", "--batch", "--shards", "3",
        "--junit", str(tmp_path / "batch.xml"),
    )  # fmt: skip
    batch = ok(run)
    assert _summary(batch) == _summary(local)
    assert set(batch["evaluations"][0]["metrics"]) == set(local["evaluations"][0]["metrics"])
    assert (tmp_path / "batch.xml").read_text().count("<testcase") >= 3
    assert "sig=" not in run.stdout + run.stderr and "access_token" not in run.stdout + run.stderr


def test_a_failed_shard_is_retried(project: Project) -> None:
    local = ok(project.run("-o", "json", "eval", "quality", "-e", "dev", "--label", "live"))
    run = project.run(
        "eval", "quality", "-e", "dev", "--label", "live", "--batch", "--shards", "2", "-o", "json",
        env={"GENAIOPS_BATCH_FAIL_ONCE": "1"},
    )  # fmt: skip
    assert _summary(ok(run)) == _summary(local)
