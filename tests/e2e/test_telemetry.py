"""Telemetry end to end in the stand-in: the sample agent deployed as a Container App with its
environment's Application Insights connection string sends request, trace and answer-quality
telemetry from its container to the stand-in's ingestion endpoint (over the stand-in's TLS, from the
Docker bridge), tagged with its revision; genaiops' logs provider reads it back through
LogsQueryClient; and an `error_rate` log alert applied by `genaiops monitor apply` fires its action
group's webhook once failed requests cross the threshold."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from .conftest import Project, Sandbox, own_project

COMPONENT = "appi-tel"
TEMPLATE = {
    "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
    "contentVersion": "1.0.0.0",
    "resources": [
        {
            "type": "Microsoft.OperationalInsights/workspaces",
            "apiVersion": "2023-09-01",
            "name": "log-tel",
            "location": "eastus2",
            "properties": {"sku": {"name": "PerGB2018"}},
        },
        {
            "type": "Microsoft.Insights/components",
            "apiVersion": "2020-02-02",
            "name": COMPONENT,
            "location": "eastus2",
            "kind": "web",
            "properties": {
                "Application_Type": "web",
                "WorkspaceResourceId": "[resourceId('Microsoft.OperationalInsights/workspaces', 'log-tel')]",
            },
            "dependsOn": ["[resourceId('Microsoft.OperationalInsights/workspaces', 'log-tel')]"],
        },
    ],
    "outputs": {
        "connectionString": {
            "type": "string",
            "value": f"[reference(resourceId('Microsoft.Insights/components', '{COMPONENT}'))"
            ".ConnectionString]",
        },
        "workspaceId": {
            "type": "string",
            "value": "[reference(resourceId('Microsoft.OperationalInsights/workspaces', 'log-tel'))"
            ".customerId]",
        },
    },
}
MONITOR = """\
    monitor:
      action_groups:
        ops:
          webhooks: [{{name: pager, url: "{url}"}}]
      log_alerts:
        agent-error-rate:
          service: agent
          error_rate: "> 0.3"
          min_requests: 4
          app_insights: {component}
          window: 5m
          frequency: 1m
          severity: 1
          action_groups: [ops]
    services:
      agent:
        telemetry: false  # this environment was not provisioned by genaiops: the app sets its own
        env:
          APPLICATIONINSIGHTS_CONNECTION_STRING: "{connection}"
          APPLICATIONINSIGHTS_FLUSH_SECONDS: "0.5"
"""


class Receiver:
    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.arrived = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                outer.bodies.append(json.loads(self.rfile.read(length)))
                outer.arrived.set()
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/alerts"


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.server.shutdown()
    r.server.server_close()


@pytest.fixture(scope="module")
def project(
    sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory, receiver: Receiver
) -> tuple[Project, str]:
    from azure.mgmt.resource.deployments import DeploymentsMgmtClient

    from genaiops_cli.core.cloud import target_for
    from genaiops_cli.providers.azure.clients import arm_client

    project = own_project(sandbox, tmp_path_factory.mktemp("telemetry"), ("dev",), prefix="tel")
    deployments = arm_client(DeploymentsMgmtClient, target_for("sandbox", None))
    outputs = (
        deployments.deployments.begin_create_or_update(
            "rg-tel-dev", "observability", {"properties": {"mode": "Incremental", "template": TEMPLATE}}
        )
        .result()
        .properties.outputs
    )
    section = MONITOR.format(
        url=receiver.url, component=COMPONENT, connection=outputs["connectionString"]["value"]
    )
    project.edit(
        "genaiops.yaml",
        "    strategy: direct\n    gates: [smoke]\n",
        "    strategy: direct\n" + section,  # ungated: a smoke gate at deploy would add its own requests
    )
    return project, outputs["workspaceId"]["value"]


def _json(project: Project, *args: str) -> dict[str, Any]:
    run = project.run("-o", "json", *args)
    assert run.code == 0, run.stderr + run.stdout
    return run.json()["result"]


def _until(fetch: Any, done: Any, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if done(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.5)


def test_sample_telemetry_is_ingested_read_back_and_alerted_on(
    project: tuple[Project, str], receiver: Receiver
) -> None:
    from genaiops_cli import wiring
    from genaiops_cli.core.cloud import target_for
    from genaiops_cli.core.manifest.loader import load_manifest
    from genaiops_cli.providers.http import http_client

    proj, workspace = project
    assert proj.run("build", "--push", "-e", "dev").code == 0
    deployed = _json(proj, "deploy", "-e", "dev", "--timeout", "90")["deployments"][0]
    revision = deployed["revision"]
    applied = _json(proj, "monitor", "apply", "-e", "dev")
    assert applied["summary"]["Create"] == 2 and applied["applied"] == 2

    logs = wiring.logs(load_manifest(proj.root / "genaiops.yaml"), "dev")
    target = target_for("sandbox", None)
    url = deployed["app_url"].rstrip("/")
    with http_client(resolve=target.resolve, ca_bundle=target.ca_bundle, timeout=10) as client:
        for _ in range(4):
            answer = client.post(url + "/chat", json={"message": "How long do refunds take?"})
            assert answer.status_code == 200
        requests = _until(
            lambda: logs.query(
                workspace,
                "requests | summarize n = count(), failed = countif(success == false) "
                "by cloud_RoleName, cloud_RoleInstance, revision = tostring(customDimensions.revision)",
                600,
            ),
            lambda rows: rows and rows[0]["n"] >= 4,
        )
        assert requests == [
            {
                "cloud_RoleName": "contoso-support-agent",
                "cloud_RoleInstance": revision,
                "revision": revision,
                "n": 4,
                "failed": 0,
            }
        ]
        quality = logs.query(
            workspace, "customMetrics | where name == 'answer_quality' | summarize avg(value), count()", 600
        )
        assert quality == [{"avg_value": 1.0, "count_": 4}]
        traces = logs.query(workspace, "AppTraces | where Message has 'quality' | count", 600)
        assert traces == [{"Count": 4}]

        app_id = (
            f"/subscriptions/{target.subscription_id}/resourceGroups/rg-tel-dev"
            "/providers/Microsoft.App/containerApps/contoso-support-agent"
        )
        console = logs.query(
            app_id, "ContainerAppConsoleLogs_CL | where Log_s has 'listening' | project RevisionName_s", 600
        )
        assert console == [{"RevisionName_s": revision}]

        time.sleep(7)  # more than one evaluation tick: 0 % failed is below the threshold
        assert receiver.bodies == []
        for _ in range(2):  # malformed questions: 400s, failed requests (2 of 6 = 0.33 > 0.3)
            assert client.post(url + "/chat", content=b"not json").status_code == 400

    assert receiver.arrived.wait(40), "the error-rate alert never fired its webhook"
    payload = receiver.bodies[0]
    essentials = payload["data"]["essentials"]
    assert (essentials["alertRule"], essentials["monitorCondition"], essentials["signalType"]) == (
        "agent-error-rate",
        "Fired",
        "Log",
    )
    condition = payload["data"]["alertContext"]["condition"]["allOf"][0]
    assert (
        condition["metricValue"] == pytest.approx(2 / 6) and condition["metricMeasureColumn"] == "error_rate"
    )
