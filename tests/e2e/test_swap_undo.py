"""`swap` and `rollback` over several services are all or none (issue 14: a failed step never leaves
an environment worse than it found it), on the stand-in with its fault table: in an ungated
environment with two services, the second service's traffic write fails (500 past the SDK's
retries) after the first one's landed → the first is put back (its new revision staged again),
read back, exit 7 with `details.undone`, the attempt in history as failed; every service is 100 %
on one healthy revision, the one it served before, and `status` shows no drift. The same for a
rollback. Then, without the fault, a re-run of the same command completes. The exhaustive cases (a
lost answer read back, an undo that fails, Ctrl-C between two writes, a forced swap) run over
in-memory fakes in tests/core/test_traffic_moves.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from genaiops_cli.errors import ExitCode

from .conftest import Project, Sandbox, own_project
from .test_promote import ok, set_version

SERVICES = ("agent", "helper")
HELPER_APP = (
    r"/subscriptions/.*/resourceGroups/rg-swu-dev/providers/Microsoft.App/containerApps/contoso-swu-helper$"
)


@pytest.fixture(scope="module")
def project(sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Project:
    """The template project with a second service (the same agent image under another repository),
    in dev made ungated (no gates) and blue/green, so `swap` is the ungated side door."""
    project = own_project(sandbox, tmp_path_factory.mktemp("swapundo"), ("dev",), prefix="swu")
    project.edit("genaiops.yaml", "name: contoso-support\n", "name: contoso-swu\n")
    text = (project.root / "genaiops.yaml").read_text()
    agent = text[text.index("  agent:\n") : text.index("\nevaluations:")]
    helper = agent.replace("  agent:\n", "  helper:\n", 1).replace("contoso/agent", "contoso/helper")
    project.edit("genaiops.yaml", "\nevaluations:", f"\n{helper}\nevaluations:")
    project.edit("genaiops.yaml", "    strategy: direct\n    gates: [smoke]\n", "    strategy: bluegreen\n")
    ship(project, "1.0.0")  # first release: both created live
    return project


@pytest.fixture
def faults(sandbox: Sandbox) -> Iterator[object]:
    from genaiops_sandbox.faults import FaultInjector

    injector = FaultInjector(sandbox.profile)
    yield injector
    injector.clear()


def ship(project: Project, version: str) -> None:
    set_version(project, version)
    assert project.run("build", "--push", "-e", "dev").code == 0
    ok(project.run("-o", "json", "deploy", "-e", "dev", "--timeout", "60"))


def services(project: Project) -> dict[str, dict]:
    """`status` per service, asserting each is 100 % on one healthy revision and there is no drift."""
    status = ok(project.run("-o", "json", "status", "-e", "dev"))
    assert status["drift"] == [], status["drift"]
    found = {}
    for svc in status["services"]:
        on = [(r["name"], r["traffic"], r["health_state"]) for r in svc["revisions"] if r["traffic"]]
        assert on == [(svc["live"], 100, "Healthy")], svc
        found[svc["service"]] = svc
    assert sorted(found) == sorted(SERVICES)
    return found


def serving(project: Project) -> dict[str, str]:
    return {name: svc["live"] for name, svc in services(project).items()}


VERSIONS = iter(f"2.0.{n}" for n in range(100))


def with_both(project: Project, role: str) -> dict[str, str]:
    """Every service has a `role` (staged | previous) side (test order must not matter): a new
    release staged, or swapped in. Returns what serves."""
    if not all(svc[role] for svc in services(project).values()):
        if role == "previous":
            with_both(project, "staged")
            ok(project.run("-o", "json", "swap", "-e", "dev"))
        else:
            ship(project, next(VERSIONS))
    return serving(project)


def newest(project: Project) -> dict:
    return ok(project.run("-o", "json", "history", "-e", "dev", "--limit", "1"))["entries"][0]


def failed_on_helper(project: Project, faults, *command: str) -> dict:
    """Run `command` with the helper app's traffic write failing (500 past the SDK's 3 retries)."""
    faults.add("PATCH", HELPER_APP, "500", count=4)
    run = project.run("-o", "json", *command)
    assert faults.rules() == [], "the fault was never hit"
    assert run.code == ExitCode.DEPLOY, run.stdout + run.stderr
    return run.json()["error"]


def test_a_swap_failing_on_the_second_service_puts_the_first_back(project: Project, faults) -> None:
    before = with_both(project, "staged")
    error = failed_on_helper(project, faults, "swap", "-e", "dev")
    assert error["code"] == "swap_failed" and "helper" in error["message"], error
    assert "every service serves what it served before" in error["message"] and error["hint"]
    assert error["details"]["undone"] == {"agent": "rolled back"}
    now = services(project)
    assert {n: svc["live"] for n, svc in now.items()} == before, "no mixed release: agent back"
    assert all(svc["staged"] for svc in now.values()), "agent's new revision staged again, as found"
    entry = newest(project)
    assert (entry["operation"], entry["status"]) == ("swap", "failed"), entry
    faults.clear()
    swapped = ok(project.run("-o", "json", "swap", "-e", "dev"))  # the re-run, nothing else
    assert {s["service"]: s["previous"] for s in swapped["swaps"]} == before
    assert serving(project) == {s["service"]: s["live"] for s in swapped["swaps"]}


def test_a_rollback_failing_on_the_second_service_puts_the_first_forward(project: Project, faults) -> None:
    before = with_both(project, "previous")
    error = failed_on_helper(project, faults, "-y", "rollback", "-e", "dev")
    assert error["code"] == "rollback_failed" and error["details"]["undone"] == {"agent": "rolled back"}
    assert serving(project) == before
    entry = newest(project)
    assert (entry["operation"], entry["status"]) == ("rollback", "failed"), entry
    faults.clear()
    back = ok(project.run("-o", "json", "-y", "rollback", "-e", "dev"))
    assert {r["service"]: r["rolled_back_from"] for r in back["rollbacks"]} == before
