"""Progressive delivery in the stand-in with real containers and real traffic through the ingress,
all driven by `genaiops promote` into a `strategy: canary` environment:

- the first release goes live at deploy (nothing to compare with) and `--no-watch` is recorded;
- a healthy release walks 10 % → 50 % → 100 %, passes its post-release watch, and is recorded live;
- the regressed sample (AGENT_ERROR_RATE=1) fails the analysis at 10 % and is back on stable within
  one analysis interval: exit 9, recorded with the evidence, last-known-good unchanged;
- a release that gets past the canary (a 15 % error rate, under the canary's tolerance) is caught by
  promote's own post-release watch (stricter) and rolled back: exit 9, recorded, last-known-good back
  on what serves.

The sample's smoke checks are cut to /healthz here: the gates must let the regression through so the
canary analysis and the watch are what catch it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from genaiops_cli.errors import ExitCode

from .conftest import Project, Sandbox, own_project

DELIVERY = """\
    strategy: canary
    canary:
      steps: [{weight: 10, pause: 6s}, {weight: 50, pause: 6s}]
      analysis: {interval: 3s, min_requests: 4, max_error_rate: 0.5, max_error_rate_increase: 0.5}
    watch:
      duration: 9s
      analysis: {interval: 3s, min_requests: 10, max_error_rate: 0.05}
"""
INTERVAL = 3


@pytest.fixture(scope="module")
def project(sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Project:
    project = own_project(sandbox, tmp_path_factory.mktemp("canary"), ("dev", "staging"), prefix="can")
    project.edit(
        "genaiops.yaml",
        "    strategy: bluegreen\n    promote_from: dev\n    gates: [smoke, quality, safety]\n",
        "    promote_from: dev\n    gates: [smoke]\n" + DELIVERY,
    )
    project.edit(
        "genaiops.yaml", "      LOG_LEVEL: info\n", '      LOG_LEVEL: info\n      AGENT_ERROR_RATE: "0"\n'
    )
    text = (project.root / "genaiops.yaml").read_text()
    start = text.index("      - name: answers-refunds")
    end = text.index("\n\n", start)
    (project.root / "genaiops.yaml").write_text(text[:start] + text[end + 1 :])
    return project


class Traffic:
    """POST /chat to the app URL in a loop, as users would, while releases go out."""

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
                self.stop.wait(0.01)


@pytest.fixture
def traffic() -> Iterator[Any]:
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


def _run(project: Project, *args: str, code: int = 0) -> dict[str, Any]:
    run = project.run("-o", "json", *args, timeout=300)
    assert run.code == code, run.stderr + run.stdout
    return run.json()


def _release(
    project: Project, error_rate: str, previous: str, *promote: str, code: int = 0
) -> dict[str, Any]:
    """A new configuration of the agent, live in dev, then promoted to staging."""
    project.edit("genaiops.yaml", f'AGENT_ERROR_RATE: "{previous}"', f'AGENT_ERROR_RATE: "{error_rate}"')
    _run(project, "deploy", "-e", "dev", "--timeout", "90")
    return _run(project, "promote", "--to", "staging", "--yes", "--timeout", "90", *promote, code=code)


def _staging(project: Project) -> dict[str, Any]:
    return _run(project, "status", "-e", "staging")["result"]["services"][0]


def _weights(project: Project) -> dict[str, int]:
    return {r["name"]: r["traffic"] for r in _staging(project)["revisions"]}


def _history(project: Project) -> dict[str, Any]:
    return _run(project, "history", "-e", "staging")["result"]


def test_canary_promotions_pass_fail_and_are_watched(project: Project, traffic: Any) -> None:
    assert project.run("build", "--push", "-e", "dev").code == 0
    first = _release(project, "0", "0", "--no-watch")["result"]
    assert first["status"] == "live" and first["watch"]["verdict"] == "skipped"
    entries = _history(project)["entries"]
    assert (entries[0]["operation"], entries[0]["status"]) == ("watch", "watch-skipped")
    assert entries[0]["overrides"][0]["reason"] == "--no-watch"
    stable = first["services"]["agent"]["revision"]
    load = traffic(_staging(project)["url"])

    # a healthy release: 10 % → 50 % → 100 %, watched, recorded live
    good = _release(project, "0.0", "0")["result"]
    canary = next(s for s in good["steps"] if s["name"] == "canary")["detail"]["steps"]
    assert [(s["weight"], s["verdict"]) for s in canary] == [(10, "pass"), (50, "pass")]
    assert {g["name"]: g["verdict"] for g in good["gates"]} == {"smoke": "pass", "canary-analysis": "pass"}
    assert good["watch"]["verdict"] == "pass"
    good_rev = good["services"]["agent"]["revision"]
    weights = _weights(project)
    assert weights[good_rev] == 100 and weights[stable] == 0
    assert _history(project)["last_known_good"]["staging"] == good["release"]

    # the regressed sample: fails at 10 %, back on stable within one analysis interval
    bad = _release(project, "1", "0.0", code=ExitCode.GATE_FAILED)["error"]
    assert bad["code"] == "canary_failed" and bad["details"]["failed_step"] == "canary"
    assert len(bad["details"]["steps"]) == 1, bad["details"]["steps"]
    (step,) = bad["details"]["steps"]
    assert step["weight"] == 10 and step["verdict"] == "fail" and step["after_s"] <= 2 * INTERVAL
    assert step["services"]["agent"]["canary"]["errors_5xx"] >= 2
    weights = _weights(project)
    assert weights[good_rev] == 100 and sum(weights.values()) == 100
    history = _history(project)
    latest = history["entries"][0]
    assert (latest["operation"], latest["status"]) == ("promote", "failed")
    assert {"name": "canary-analysis", "verdict": "fail"} in latest["gates"]
    assert history["last_known_good"]["staging"] == good["release"]

    # past the canary's tolerance, caught by promote's own (stricter) post-release watch
    worse = _release(project, "0.15", "1", code=ExitCode.GATE_FAILED)["error"]
    assert worse["code"] == "watch_failed"
    promoted = worse["details"]["promotion"]
    assert promoted["status"] == "live" and worse["details"]["rollback"]["agent"]["live"] == good_rev
    weights = _weights(project)
    assert weights[good_rev] == 100 and weights[promoted["services"]["agent"]["revision"]] == 0
    history = _history(project)
    latest = history["entries"][0]
    assert (latest["operation"], latest["status"], latest["release"]) == (
        "watch",
        "rolled-back",
        promoted["release"],
    )
    assert history["last_known_good"]["staging"] == good["release"]  # what serves
    assert 500 in load.statuses and load.statuses[-1] == 200


def test_swap_on_a_canary_environment_walks_the_steps(project: Project, traffic: Any) -> None:
    """`swap` in a canary environment runs the same steps as promote: the regressed sample staged by
    `deploy` is refused at 10 % and back on stable (exit 9, recorded as a failed swap)."""
    load = traffic(_staging(project)["url"])
    status = _staging(project)
    live = status["live"]
    digest = next(r["image"] for r in status["revisions"] if r["name"] == live).rsplit("@", 1)[1]
    project.edit("genaiops.yaml", 'AGENT_ERROR_RATE: "0.15"', 'AGENT_ERROR_RATE: "1"')
    deployed = _run(project, "deploy", "-e", "staging", "--digest", digest, "--timeout", "90")
    staged = deployed["result"]["deployments"][0]
    assert staged["action"] == "staged"
    failed = _run(project, "swap", "-e", "staging", code=ExitCode.GATE_FAILED)["error"]
    assert failed["code"] == "canary_failed" and failed["details"]["steps"][0]["weight"] == 10
    weights = _weights(project)
    assert weights[live] == 100 and weights[staged["revision"]] == 0
    latest = _history(project)["entries"][0]
    assert (latest["operation"], latest["status"]) == ("swap", "failed")
    assert {"name": "canary-analysis", "verdict": "fail"} in latest["gates"]
    assert load.statuses[-1] == 200


def test_ctrl_c_during_the_watch_exits_130_and_leaves_the_release_live(project: Project) -> None:
    import json
    import os
    import signal
    import subprocess
    import sys

    live = _staging(project)["live"]
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "genaiops_cli",
            "-v",
            "-o",
            "json",
            "watch",
            "-e",
            "staging",
            "--duration",
            "60s",
        ],
        cwd=project.root,
        env={**os.environ, "NO_COLOR": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    for line in proc.stderr:  # progress on stderr (-v): wait until the watch runs
        if "watching" in line:
            break
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == ExitCode.INTERRUPTED
    error = json.loads(out)["error"]
    assert error["code"] == "interrupted" and "stays live" in error["message"]
    assert error["details"]["signal"] == "SIGINT"
    assert _staging(project)["live"] == live
    latest = _history(project)["entries"][0]
    assert (latest["operation"], latest["status"]) == ("watch", "interrupted")
