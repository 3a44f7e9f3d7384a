"""Promotion by digest across three registries in the stand-in (issue 6), as one story:
dev → staging → prod; history and diff; a release without staging evidence refused then forced;
faults at each step absorbed or leaving prod on its healthy previous revision and resumable;
two concurrent promotions → one exits 11."""

from __future__ import annotations

import concurrent.futures

import pytest

from genaiops_cli.errors import ExitCode

from .conftest import Project, Sandbox, make_project
from .test_deploy_bluegreen import version_at as _version_at


def version_at(url: str) -> str:
    """The router's SNI table is rebuilt as apps change; a handshake during a rebuild can get the
    default certificate (a stand-in flake reported to its owner), so retry a few times."""
    import time

    import httpx

    for attempt in range(5):
        try:
            return _version_at(url)
        except httpx.ConnectError:
            if attempt == 4:
                raise
            time.sleep(0.5)
    raise AssertionError("unreachable")


@pytest.fixture(scope="module")
def project(sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Project:
    return make_project(sandbox, tmp_path_factory.mktemp("promote"), ("dev", "staging", "prod"))


def ok(run) -> dict:
    assert run.code == 0, run.stderr + run.stdout
    return run.json()["result"]


def set_version(project: Project, version: str) -> None:
    path = project.root / "src/agent/app/server.py"
    import re

    path.write_text(re.sub(r'"AGENT_VERSION", "[^"]+"', f'"AGENT_VERSION", "{version}"', path.read_text()))


def ship_dev(project: Project, version: str) -> None:
    set_version(project, version)
    assert project.run("build", "--push", "-e", "dev").code == 0
    ok(project.run("-o", "json", "deploy", "-e", "dev", "--timeout", "60"))


def promote(project: Project, to: str, *extra: str):
    return project.run("-o", "json", "-y", "promote", "--to", to, "--timeout", "60", *extra)


def live(project: Project, env: str) -> dict:
    return ok(project.run("-o", "json", "status", "-e", env))["services"][0]


def test_promotion_story(project: Project) -> None:
    from genaiops_sandbox.faults import FaultInjector
    from genaiops_sandbox.profile import Profile

    # v1: dev → staging (first release: live at once) → prod, the same digest in three registries
    ship_dev(project, "1.0.0")
    dry = ok(project.run("-o", "json", "promote", "--to", "staging", "--dry-run"))
    assert (
        dry["dry_run"]
        and dry["services"][0]["changed"]
        and dry["services"][0]["copy"] == "copy missing blobs"
    )
    assert project.run("promote", "--to", "staging").code == ExitCode.USAGE, "non-interactive needs --yes"
    staging = ok(promote(project, "staging"))
    rel1 = staging["release"]
    assert staging["status"] == "live" and staging["release"] == dry["release"]
    prod = ok(promote(project, "prod"))
    assert prod["release"] == rel1, "the release id does not change between environments"
    digest = staging["services"]["agent"]["digest"]
    assert prod["services"]["agent"]["digest"] == digest
    assert live(project, "prod")["live"] == prod["services"]["agent"]["revision"]
    assert version_at(live(project, "prod")["url"]) == "1.0.0"
    again = ok(promote(project, "prod"))
    assert again["status"] == "unchanged"

    # v2 goes through staging blue/green via promote; plan shows the delta before anything moves
    ship_dev(project, "2.0.0")
    staged = ok(promote(project, "staging"))
    rel2 = staged["release"]
    assert rel2 != rel1
    plan = ok(project.run("-o", "json", "plan", "-e", "prod"))
    assert plan["release"] == rel2 and plan["target_release"] == rel1 and plan["evidence_ok"]
    assert plan["services"][0]["from_digest"] == digest and plan["services"][0]["changed"]
    assert live(project, "prod")["live"] == prod["services"]["agent"]["revision"], "plan changes nothing"

    # faults on the prod container app writes and reads are absorbed (retries), promotion completes
    faults = FaultInjector(Profile.load(project.sandbox.state_dir))
    try:
        faults.add("PUT", r"/containerApps/contoso-support-agent$", "429", count=1, retry_after=0)
        faults.add("PATCH", r"/containerApps/contoso-support-agent$", "500", count=1)
        faults.add("GET", r"/revisions/", "drop", count=1)
        p2 = ok(promote(project, "prod"))
    finally:
        faults.clear()
    assert p2["release"] == rel2
    assert version_at(live(project, "prod")["url"]) == "2.0.0"

    # history and diff
    hist = ok(project.run("-o", "json", "history", "--limit", "50"))
    seen = {(e["environment"], e["release"], e["status"]) for e in hist["entries"]}
    assert {
        ("staging", rel1, "live"),
        ("prod", rel1, "live"),
        ("staging", rel2, "live"),
        ("prod", rel2, "live"),
    } <= seen
    assert hist["last_known_good"]["prod"] == rel2
    diff = ok(project.run("-o", "json", "diff", "staging", "prod"))
    assert diff["release_a"] == diff["release_b"] == rel2 and diff["services"][0]["same_digest"]
    paths = {d["path"] for d in diff["services"][0]["config"]}
    assert {"resources.cpu", "env.LOG_LEVEL"} <= paths

    # v3 deployed into staging by hand (no gate evidence recorded): refused, then forced with a reason
    set_version(project, "3.0.0")
    assert project.run("build", "--push", "-e", "staging").code == 0
    ok(project.run("-o", "json", "deploy", "-e", "staging", "--timeout", "60"))
    # staging is gated: its swap runs the gates unless forced, and a forced swap is recorded, not evidence
    forced = ok(project.run("-o", "json", "swap", "-e", "staging", "--force", "--reason", "hand hotfix"))
    assert forced["forced_reason"] == "hand hotfix" and forced["gates"] == []
    entry = ok(project.run("-o", "json", "history", "-e", "staging", "--limit", "1"))["entries"][0]
    assert entry["operation"] == "swap" and entry["release"] == forced["release"]
    assert entry["overrides"][0]["what"] == "gates" and entry["overrides"][0]["reason"] == "hand hotfix"
    refused = promote(project, "prod")
    assert refused.code == ExitCode.GATE_FAILED, refused.stderr
    assert refused.json()["error"]["code"] == "no_evidence"
    assert live(project, "prod")["live"] == p2["services"]["agent"]["revision"]

    # a stuck revision in prod: promote fails (exit 7), prod keeps 100 % on v2; the re-run resumes
    plan3 = ok(project.run("-o", "json", "plan", "-e", "prod"))
    stuck_revision = plan3["services"][0]["revision"]
    try:
        faults.add("*", stuck_revision, "stuck_revision", seconds=0)
        stuck = project.run(
            "-o",
            "json",
            "-y",
            "promote",
            "--to",
            "prod",
            "--timeout",
            "6",
            "--force",
            "--reason",
            "hotfix approved by on-call",
        )
    finally:
        faults.clear()
    assert stuck.code == ExitCode.DEPLOY, stuck.stdout + stuck.stderr
    assert stuck.json()["error"]["details"]["failed_step"] == "deploy:agent"
    st = live(project, "prod")
    assert st["live"] == p2["services"]["agent"]["revision"]
    assert {r["name"]: r["traffic"] for r in st["revisions"]}[st["live"]] == 100
    resumed = ok(promote(project, "prod", "--force", "--reason", "hotfix approved by on-call"))
    assert resumed["resumed"] and resumed["attempt"] == 2
    assert [s for s in resumed["steps"] if s["name"] == "copy:agent"][0]["attempt"] == 1, "no second copy"
    assert resumed["overrides"][0]["reason"] == "hotfix approved by on-call"
    assert live(project, "prod")["live"] == resumed["services"]["agent"]["revision"]
    revisions = [r["name"] for r in live(project, "prod")["revisions"]]
    assert revisions.count(stuck_revision) == 1, "no duplicate revision"
    hist = ok(project.run("-o", "json", "history", "-e", "prod", "--limit", "1"))
    assert hist["entries"][0]["overrides"][0]["what"] == "evidence"


def test_concurrent_promotions_one_wins(project: Project) -> None:
    ship_dev(project, "4.0.0")
    ok(promote(project, "staging"))
    before = live(project, "prod")["live"]
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        runs = list(pool.map(lambda _: promote(project, "prod"), range(2)))
    codes = sorted(r.code for r in runs)
    assert codes == [0, ExitCode.LOCKED], [r.stderr[-400:] for r in runs]
    loser = next(r for r in runs if r.code == ExitCode.LOCKED)
    assert "locked by" in loser.json()["error"]["message"]
    winner = next(r for r in runs if r.code == 0).json()["result"]
    assert live(project, "prod")["live"] == winner["services"]["agent"]["revision"] != before
