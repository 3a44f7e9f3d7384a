"""Canary analysis on the live answer-quality signal, in the stand-in with real containers: the
sample reports `answer_quality` to Application Insights from its containers; a canary of the
deliberately regressed variant (it answers, 200 OK, from the wrong passages) passes every platform
check but fails `min_quality` at the first step, read through LogsQueryClient, and is back on stable
(exit 9, the quality in the recorded evidence)."""

from __future__ import annotations

from typing import Any

import pytest

from genaiops_cli.errors import ExitCode

from .conftest import Project, Sandbox, own_project
from .test_canary import Traffic
from .test_telemetry import TEMPLATE

CANARY = """\
    canary:
      steps: [{{weight: 30, pause: 10s}}]
      analysis:
        interval: 2s
        min_requests: 5
        max_error_rate: 0.05
        min_quality: 0.7
        min_quality_samples: 3
        app_insights: appi-tel
    services:
      agent:
        telemetry: false  # this environment was not provisioned by genaiops: the app sets its own
        env:
          AGENT_VARIANT: standard
          APPLICATIONINSIGHTS_CONNECTION_STRING: "{connection}"
          APPLICATIONINSIGHTS_FLUSH_SECONDS: "0.5"
"""


@pytest.fixture(scope="module")
def project(sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Project:
    from azure.mgmt.resource.deployments import DeploymentsMgmtClient

    from genaiops_cli.core.cloud import target_for
    from genaiops_cli.providers.azure.clients import arm_client

    project = own_project(sandbox, tmp_path_factory.mktemp("canaryq"), ("staging",), prefix="cq")
    deployments = arm_client(DeploymentsMgmtClient, target_for("sandbox", None))
    outputs = (
        deployments.deployments.begin_create_or_update(
            "rg-cq-staging", "observability", {"properties": {"mode": "Incremental", "template": TEMPLATE}}
        )
        .result()
        .properties.outputs
    )
    project.edit(
        "genaiops.yaml",
        "    promote_from: dev\n    gates: [smoke, quality, safety]\n",
        "    promote_from: dev\n    gates: [smoke, quality, safety]\n"
        + CANARY.format(connection=outputs["connectionString"]["value"]),
    )
    return project


def _json(project: Project, *args: str, code: int = 0) -> dict[str, Any]:
    run = project.run("-o", "json", *args, timeout=300)
    assert run.code == code, run.stderr + run.stdout
    return run.json()


def test_a_regressed_canary_fails_on_live_answer_quality(project: Project) -> None:
    assert project.run("build", "--push", "-e", "staging").code == 0
    setup = ("--force", "--reason", "test setup")  # the stable side: its gates are not the subject
    stable = _json(project, "deploy", "-e", "staging", "--timeout", "90", *setup)["result"]["deployments"][0]
    load = Traffic(stable["app_url"].rstrip("/"))
    load.thread.start()
    try:
        project.edit("genaiops.yaml", "AGENT_VARIANT: standard", "AGENT_VARIANT: regressed")
        regressed = _json(project, "deploy", "-e", "staging", "--timeout", "90")["result"]["deployments"][0]
        assert regressed["action"] == "staged"
        failed = _json(project, "canary", "-e", "staging", code=ExitCode.GATE_FAILED)
    finally:
        load.stop.set()
        load.thread.join(timeout=15)
    assert failed["error"]["code"] == "canary_failed"
    step = failed["error"]["details"]["steps"][0]
    assert step["verdict"] == "fail" and any("answer quality" in r for r in step["reasons"]), step
    assert step["canary"]["errors_5xx"] == 0  # nothing the platform metrics would have caught
    assert step["canary"]["quality"] < 0.7 <= step["stable"]["quality"]
    assert set(load.statuses) == {200}
