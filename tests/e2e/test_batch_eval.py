"""`genaiops eval --batch` end to end in the stand-in: the runner image is built and pushed by
digest to the environment's registry, the calls are sharded into the environment's storage account,
a Container Apps Job execution runs one replica per shard (real containers, managed identity for
Blob, the service reached through the environment's ingress), and the aggregate equals a local run
on the same rows — also when a shard fails once and is retried."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from .conftest import BASE_IMAGE, Project, Sandbox, own_project

QUALITY = ("exact_match", "token_f1", "error_rate")  # latency is measured where the calls are sent


@pytest.fixture(scope="module")
def project(sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    project = own_project(sandbox, tmp_path_factory.mktemp("batch"), ("dev",), prefix="batch")
    assert project.run("build", "--push", "-e", "dev").code == 0
    deployed = project.run("-o", "json", "deploy", "-e", "dev", "--timeout", "60")
    assert deployed.code == 0, deployed.stderr[-3000:]
    yield project
    import docker  # what this module left on the shared engine: the replicas and the agent's revisions

    from genaiops_sandbox.runtime import instance_id

    labels = [f"genaiops.instance={instance_id(sandbox.state_dir)}", "genaiops.resource-group=rg-batch-dev"]
    client = docker.from_env()
    try:
        for ctr in client.containers.list(all=True, filters={"label": labels}):
            ctr.remove(force=True)
    finally:
        client.close()


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
    assert batch["batch"]["shards"] == 3 and len(_replicas(batch["batch"]["execution"])) == 3
    assert set(batch["evaluations"][0]["metrics"]) == set(local["evaluations"][0]["metrics"])
    assert (tmp_path / "batch.xml").read_text().count("<testcase") >= 3
    assert "sig=" not in run.stdout + run.stderr and "access_token" not in run.stdout + run.stderr


def test_a_failed_shard_is_retried(project: Project) -> None:
    local = ok(project.run("-o", "json", "eval", "quality", "-e", "dev", "--label", "live"))
    run = project.run(
        "eval", "quality", "-e", "dev", "--label", "live", "--batch", "--shards", "2", "-o", "json",
        env={"GENAIOPS_BATCH_FAIL_ONCE": "1"},
    )  # fmt: skip
    batch = ok(run)
    assert _summary(batch) == _summary(local)
    # the replica that took shard 1 failed (exit 3); a replacement finished it
    replicas = _replicas(batch["batch"]["execution"])
    assert sorted(c.attrs["State"]["ExitCode"] for c in replicas) == [0, 0, 3]


def _replicas(execution: str) -> list:
    import docker

    client = docker.from_env()
    try:
        return client.containers.list(all=True, filters={"label": f"genaiops.execution={execution}"})
    finally:
        client.close()


def test_ctrl_c_stops_the_execution(project: Project) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "genaiops_cli", "eval", "quality", "-e", "dev", "--label", "live", "--batch"],
        cwd=project.root,
        env={**os.environ, "BASE_IMAGE": BASE_IMAGE, "NO_COLOR": "1", "COLUMNS": "200"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        line = ""
        while "shards done" not in line:
            line = proc.stderr.readline()
            assert line, "the command ended before it reported progress"
        execution = line.split("eval --batch ", 1)[1].split(":", 1)[0]
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 130
    finally:
        proc.kill()
    deadline = time.monotonic() + 20  # SIGTERM, then SIGKILL after the stand-in's 2 s grace
    while any(c.attrs["State"]["Running"] for c in _replicas(execution)) and time.monotonic() < deadline:
        time.sleep(0.2)
    replicas = _replicas(execution)
    assert replicas and not any(c.attrs["State"]["Running"] for c in replicas)


def test_a_pushed_dataset_runs_as_a_batch_when_the_evaluation_says_batch(project: Project) -> None:
    local = ok(project.run("-o", "json", "eval", "quality", "-e", "dev", "--label", "live"))
    version = ok(project.run("-o", "json", "data", "push", "qa", "data/eval.jsonl", "-e", "dev"))["version"]
    project.edit(
        "genaiops.yaml",
        "    dataset: data/eval.jsonl          # one JSON object per line",
        "    batch: {shards: 2}\n    dataset: foundry:qa@latest        # one JSON object per line",
    )
    assert project.run("validate").code == 0
    batch = ok(project.run("-o", "json", "eval", "quality", "-e", "dev", "--label", "live"))  # no --batch
    assert batch["batch"]["replicas"] == 2
    assert batch["evaluations"][0]["dataset"]["ref"] == f"foundry:qa@{version}"
    assert _summary(batch) == _summary(local)
