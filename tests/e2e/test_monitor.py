"""Alerts as code in the stand-in, end to end: the sample agent deployed with injected 500s, its
`monitor:` applied twice (the second run changes nothing), real requests through the ingress, the
platform metrics per revision read back with azure-mgmt-monitor, and the metric alert firing its
action group's webhook (common alert schema) at a receiver in this test once 5xx cross the threshold."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from .conftest import Project, Sandbox, own_project

MONITOR = """\
    monitor:
      action_groups:
        ops:
          webhooks: [{{name: pager, url: "{url}"}}]
          emails: [{{name: oncall, address: oncall@example.com}}]
      alerts:
        agent-5xx:
          service: agent
          metric: Requests
          where: {{statusCodeCategory: 5xx}}
          threshold: "> 3"
          window: 5m
          frequency: 1m
          severity: 1
          action_groups: [ops]
      log_alerts:
        agent-tracebacks:
          service: agent
          query: "ContainerAppConsoleLogs_CL | where Log_s has 'Traceback'"
          threshold: "> 0"
    services:
      agent: {{env: {{AGENT_ERROR_RATE: "1"}}}}
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
def project(sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory, receiver: Receiver) -> Project:
    project = own_project(sandbox, tmp_path_factory.mktemp("monitor"), ("dev",), prefix="mon")
    project.edit(
        "genaiops.yaml",
        "    strategy: direct\n    gates: [smoke]\n",
        "    strategy: direct\n    gates: [smoke]\n" + MONITOR.format(url=receiver.url),
    )
    return project


def _json(project: Project, *args: str) -> dict[str, Any]:
    run = project.run("-o", "json", *args)
    assert run.code == 0, run.stderr + run.stdout
    return run.json()["result"]


def test_alert_fires_its_webhook_when_5xx_cross_the_threshold(project: Project, receiver: Receiver) -> None:
    from genaiops_cli.core.cloud import target_for
    from genaiops_cli.providers.azure.monitor import revision_stats
    from genaiops_cli.providers.http import http_client

    assert project.run("build", "--push", "-e", "dev").code == 0
    # dev's smoke gate would refuse an agent that always answers 500: the override is recorded
    deployed = _json(
        project,
        "deploy",
        "-e",
        "dev",
        "--timeout",
        "90",
        "--force",
        "--reason",
        "alert test: 500s on purpose",
    )["deployments"][0]

    what_if = _json(project, "monitor", "apply", "-e", "dev", "--what-if")
    assert what_if["summary"]["Create"] == 3 and what_if["applied"] == 0
    first = _json(project, "monitor", "apply", "-e", "dev")
    assert (
        first["summary"] == {"Create": 3, "Modify": 0, "Delete": 0, "NoChange": 0} and first["applied"] == 3
    )
    second = _json(project, "monitor", "apply", "-e", "dev")
    assert (
        second["summary"] == {"Create": 0, "Modify": 0, "Delete": 0, "NoChange": 3} and second["applied"] == 0
    )

    rules = {r["name"]: r for r in _json(project, "monitor", "status", "-e", "dev")["rules"]}
    assert rules["agent-5xx"]["state"] == "Resolved" and rules["agent-5xx"]["sync"] == "in sync"

    target = target_for("sandbox", None)
    url = deployed["app_url"].rstrip("/")
    with http_client(resolve=target.resolve, ca_bundle=target.ca_bundle, timeout=10) as client:
        for _ in range(3):
            assert client.get(url + "/healthz").status_code == 200
        for _ in range(3):  # three 5xx: not above the threshold yet
            assert client.post(url + "/chat", json={"message": "refunds?"}).status_code == 500
        time.sleep(7)  # more than one evaluation tick of the stand-in
        assert receiver.bodies == []
        assert client.post(url + "/chat", json={"message": "refunds?"}).status_code == 500

    assert receiver.arrived.wait(40), "the alert never fired its webhook"
    payload = receiver.bodies[0]
    assert payload["schemaId"] == "azureMonitorCommonAlertSchema"
    essentials = payload["data"]["essentials"]
    assert essentials["alertRule"] == "agent-5xx" and essentials["monitorCondition"] == "Fired"
    assert essentials["severity"] == "Sev1"
    assert payload["data"]["alertContext"]["condition"]["allOf"][0]["metricValue"] == 4
    assert payload["data"]["alertContext"]["properties"] == {"environment": "dev"}

    rules = {r["name"]: r for r in _json(project, "monitor", "status", "-e", "dev")["rules"]}
    assert rules["agent-5xx"]["state"] == "Fired"

    app_id = (
        f"/subscriptions/{target.subscription_id}/resourceGroups/rg-mon-dev"
        "/providers/Microsoft.App/containerApps/contoso-support-agent"
    )
    stats = revision_stats(target, app_id, 600)
    assert list(stats) == [deployed["revision"]]
    mine = stats[deployed["revision"]]
    assert (mine.requests, mine.errors) == (7, 4) and mine.average_ms is not None

    # a request answered a moment ago is in the window (its end was once cut to the whole second)
    with http_client(resolve=target.resolve, ca_bundle=target.ca_bundle, timeout=10) as client:
        assert client.get(url + "/healthz").status_code == 200
    mine = revision_stats(target, app_id, 600)[deployed["revision"]]
    assert (mine.requests, mine.errors) == (8, 4)
