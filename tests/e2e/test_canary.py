"""Canary delivery in the stand-in with real containers and real traffic: a release whose /chat
answers 500 fails the analysis at the first step and is back on stable (exit 9, recorded), then a
healthy release walks 20 % → 50 % → 100 % and goes live; finally a bad release swapped in by hand
is caught by the post-release watch and rolled back (exit 9, recorded)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from genaiops_cli.errors import ExitCode

from .conftest import Project, Sandbox, own_project

CANARY = """\
    canary:
      steps: [{weight: 20, pause: 8s}, {weight: 50, pause: 8s}]
      analysis: {interval: 2s, min_requests: 5, max_error_rate: 0.05}
    watch:
      duration: 30s
      analysis: {interval: 3s, min_requests: 5, max_error_rate: 0.05}
    services:
      agent: {env: {AGENT_ERROR_RATE: "RATE"}}
"""


@pytest.fixture(scope="module")
def project(sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Project:
    project = own_project(sandbox, tmp_path_factory.mktemp("canary"), ("staging",), prefix="can")
    project.edit(
        "genaiops.yaml",
        "    promote_from: dev\n    gates: [smoke, quality, safety]\n",
        "    promote_from: dev\n    gates: [smoke, quality, safety]\n" + CANARY.replace('RATE"', '0"'),
    )
    return project


class Traffic:
    """POST /chat to the app URL in a loop, as users would, while a canary runs."""

    def __init__(self, url: str) -> None:
        self.url, self.stop, self.statuses = url, threading.Event(), []
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        from genaiops_cli.core.cloud import target_for
        from genaiops_cli.providers.http import http_client

        target = target_for("sandbox", None)
        with http_client(resolve=target.resolve, ca_bundle=target.ca_bundle, timeout=10) as client:
            while not self.stop.is_set():
                try:
                    r = client.post(self.url + "/chat", json={"message": "How long do refunds take?"})
                    self.statuses.append(r.status_code)
                except Exception:
                    self.statuses.append(0)
                self.stop.wait(0.05)


@pytest.fixture
def traffic(project: Project) -> Iterator[Any]:
    started: list[Traffic] = []

    def start(url: str) -> Traffic:
        t = Traffic(url.rstrip("/"))
        t.thread.start()
        started.append(t)
        return t

    yield start
    for t in started:
        t.stop.set()
        t.thread.join(timeout=15)


def _json(project: Project, *args: str, code: int = 0) -> dict[str, Any]:
    run = project.run("-o", "json", *args, timeout=300)
    assert run.code == code, run.stderr + run.stdout
    return run.json()


def _ship(project: Project, error_rate: str, previous: str) -> dict[str, Any]:
    project.edit("genaiops.yaml", f'AGENT_ERROR_RATE: "{previous}"', f'AGENT_ERROR_RATE: "{error_rate}"')
    return _json(project, "deploy", "-e", "staging", "--timeout", "90")["result"]["deployments"][0]


def _weights(project: Project) -> dict[str, int]:
    service = _json(project, "status", "-e", "staging")["result"]["services"][0]
    return {r["name"]: r["traffic"] for r in service["revisions"]}


def test_bad_canary_is_rolled_back_and_a_good_one_goes_live(project: Project, traffic: Any) -> None:
    assert project.run("build", "--push", "-e", "staging").code == 0
    stable = _json(project, "deploy", "-e", "staging", "--timeout", "90")["result"]["deployments"][0]
    load = traffic(stable["app_url"])

    bad = _ship(project, "1", "0")
    assert bad["action"] == "staged"
    failed = _json(project, "canary", "-e", "staging", code=ExitCode.GATE_FAILED)
    assert failed["error"]["code"] == "canary_failed"
    steps = failed["error"]["details"]["steps"]
    assert len(steps) == 1 and steps[0]["weight"] == 20 and steps[0]["verdict"] == "fail"
    weights = _weights(project)
    assert weights[stable["revision"]] == 100 and weights[bad["revision"]] == 0
    history = _json(project, "history", "-e", "staging")["result"]["entries"]
    assert history[0]["operation"] == "canary" and history[0]["status"] == "failed"
    assert history[0]["gates"] == [{"name": "canary-analysis", "verdict": "fail"}]

    good = _ship(project, "0.0", "1")  # a new configuration, so a new revision (not the stable one)
    assert good["action"] == "staged" and good["revision"] != bad["revision"]
    passed = _json(project, "canary", "-e", "staging")["result"]["canaries"][0]
    assert [s["weight"] for s in passed["steps"]] == [20, 50]
    assert all(s["verdict"] == "pass" for s in passed["steps"])
    weights = _weights(project)
    assert weights[good["revision"]] == 100 and weights[stable["revision"]] == 0
    assert 500 in load.statuses and load.statuses[-1] == 200

    # a release that goes bad after the swap: the watch rolls it back by itself
    bad_again = _ship(project, "1", "0.0")
    assert bad_again["action"] == "staged"
    swapped = project.run(
        "swap", "-e", "staging", "--skip-smoke", "--reason", "testing the post-release watch"
    )
    assert swapped.code == 0, swapped.stderr
    assert _weights(project)[bad_again["revision"]] == 100
    watched = _json(project, "watch", "-e", "staging", code=ExitCode.GATE_FAILED)
    assert watched["error"]["code"] == "watch_failed"
    assert watched["error"]["details"]["rollback"]["live"] == good["revision"]
    weights = _weights(project)
    assert weights[good["revision"]] == 100 and weights[bad_again["revision"]] == 0
    history = _json(project, "history", "-e", "staging")["result"]["entries"]
    assert history[0]["operation"] == "watch" and history[0]["status"] == "rolled-back"
