"""Gated environments have no side door (issue 14, item 4): `build --push -e prod && deploy -e prod
&& swap -e prod` no longer puts an ungated digest live silently — the swap runs prod's gates against
the staged side and records the outcome like a promotion (history, last-known-good, the app's release
tag), and a failing gate leaves live traffic where it was, recorded as a failed attempt. The first
revision of a new app (live at deploy) runs prod's gates too; failing them, the app is deleted."""

from __future__ import annotations

import pytest

from genaiops_cli.errors import ExitCode

from .conftest import Project, Sandbox, own_project
from .test_promote import live, ok, set_version


@pytest.fixture(scope="module")
def project(sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Project:
    return own_project(sandbox, tmp_path_factory.mktemp("sidedoors"), ("dev", "prod"), prefix="side")


def deploy_by_hand(project: Project, version: str, env: str = "prod"):
    set_version(project, version)
    assert project.run("build", "--push", "-e", env).code == 0
    return project.run("-o", "json", "deploy", "-e", env, "--timeout", "60")


def test_a_deploy_that_goes_live_in_the_entry_environment_runs_its_gates(project: Project) -> None:
    """dev (gates, no promote_from, strategy direct): a deploy goes live at once, so its gates run
    against live right after; a failure rolls it back (exit 9) and both are in history."""
    good = ok(deploy_by_hand(project, "8.0.0", "dev"))
    assert good["gates"] == [{"name": "smoke", "verdict": "pass"}] and good["ledger"]
    serving = live(project, "dev")
    assert serving["release"] == good["release"]
    project.edit(
        "genaiops.yaml", '"$.answer": {contains: "5 business days"}', '"$.answer": {contains: "never said"}'
    )
    try:
        bad = deploy_by_hand(project, "8.1.0", "dev")
    finally:
        project.edit(
            "genaiops.yaml",
            '"$.answer": {contains: "never said"}',
            '"$.answer": {contains: "5 business days"}',
        )
    assert bad.code == ExitCode.GATE_FAILED, bad.stdout + bad.stderr
    assert "rolled back" in bad.json()["error"]["message"]
    assert live(project, "dev")["live"] == serving["live"], "the ungated digest no longer serves"
    hist = ok(project.run("-o", "json", "history", "-e", "dev", "--limit", "2"))
    assert [(e["operation"], e["status"]) for e in hist["entries"]] == [
        ("deploy", "failed"),
        ("deploy", "live"),
    ]
    assert hist["last_known_good"]["dev"] == good["release"]
    assert ok(project.run("-o", "json", "status", "-e", "dev"))["drift"] == []


def test_a_first_revision_failing_prods_gates_leaves_prod_without_the_app(project: Project) -> None:
    """prod (promote_from): the first revision of a new app goes live at deploy (nothing to stage
    beside), so prod's gates run against it; it fails → the app this deploy created is deleted (prod
    had none), exit 9, recorded failed — nothing of the failing release serves."""
    project.edit(
        "genaiops.yaml", '"$.answer": {contains: "5 business days"}', '"$.answer": {contains: "never said"}'
    )
    try:
        bad = deploy_by_hand(project, "6.0.0")
    finally:
        project.edit(
            "genaiops.yaml",
            '"$.answer": {contains: "never said"}',
            '"$.answer": {contains: "5 business days"}',
        )
    assert bad.code == ExitCode.GATE_FAILED, bad.stdout + bad.stderr
    error = bad.json()["error"]
    assert error["details"]["undone"] == {"agent": "removed"} and "removed" in error["message"]
    status = ok(project.run("-o", "json", "status", "-e", "prod"))["services"][0]
    assert not status["deployed"] and not status.get("revisions"), status
    assert arm_app(status["app"]) is None, "no app, no revision"
    assert answer_of(status["app"]) != 200, "nothing of the failing release answers on the app's URL"
    hist = ok(project.run("-o", "json", "history", "-e", "prod", "--limit", "1"))
    entry = hist["entries"][0]
    assert (entry["operation"], entry["status"], entry["release"]) == (
        "deploy",
        "failed",
        error["details"]["release"],
    )
    assert not hist["last_known_good"].get("prod")


def arm_app(app: str) -> dict | None:
    """The app as ARM has it (None: deleted), read with the real SDK."""
    from azure.core.exceptions import ResourceNotFoundError

    from genaiops_cli.core.cloud import target_for
    from genaiops_cli.providers.azure.clients import container_apps

    try:
        return container_apps(target_for("sandbox", None)).container_apps.get("rg-side-prod", app).as_dict()
    except ResourceNotFoundError:
        return None


def answer_of(app: str) -> int | None:
    """The status the app's URL in prod's environment answers with (None: no answer at all)."""
    import httpx

    from genaiops_cli.core.cloud import target_for
    from genaiops_cli.providers.azure.clients import container_apps
    from genaiops_cli.providers.http import http_client

    target = target_for("sandbox", None)
    domain = container_apps(target).managed_environments.get("rg-side-prod", "cae-side-prod").default_domain
    with http_client(resolve=target.resolve, ca_bundle=target.ca_bundle, timeout=10) as client:
        try:
            return client.get(f"https://{app}.{domain}/healthz").status_code
        except httpx.HTTPError:
            return None


def test_hand_swap_in_prod_runs_its_gates_and_is_recorded(project: Project) -> None:
    # first revision: live at once (nothing to swap from), so prod's gates ran on it, recorded
    first = ok(deploy_by_hand(project, "7.0.0"))
    assert {g["name"]: g["verdict"] for g in first["gates"]} == {"smoke": "pass", "quality": "pass"}
    first_live = live(project, "prod")["live"]
    ok(deploy_by_hand(project, "7.1.0"))  # blue/green: staged at 0 %
    assert live(project, "prod")["live"] == first_live

    swapped = ok(project.run("-o", "json", "swap", "-e", "prod"))
    assert {g["name"]: g["verdict"] for g in swapped["gates"]} == {"smoke": "pass", "quality": "pass"}
    now = live(project, "prod")
    assert now["live"] != first_live
    hist = ok(project.run("-o", "json", "history", "-e", "prod", "--limit", "1"))
    entry = hist["entries"][0]
    assert (
        entry["operation"] == "swap" and entry["status"] == "live" and entry["release"] == swapped["release"]
    )
    assert hist["last_known_good"]["prod"] == swapped["release"], (
        "a gated swap that passed is last-known-good"
    )
    assert now.get("release") == swapped["release"], "the app is tagged with the release it serves"

    # a staged side that fails prod's smoke gate: refused (exit 9), traffic stays, the attempt is in history
    project.edit(
        "genaiops.yaml", '"$.answer": {contains: "5 business days"}', '"$.answer": {contains: "never said"}'
    )
    try:
        ok(deploy_by_hand(project, "7.2.0"))
        refused = project.run("-o", "json", "swap", "-e", "prod")
    finally:
        project.edit(
            "genaiops.yaml",
            '"$.answer": {contains: "never said"}',
            '"$.answer": {contains: "5 business days"}',
        )
    assert refused.code == ExitCode.GATE_FAILED, refused.stdout + refused.stderr
    assert live(project, "prod")["live"] == now["live"], "a failed gate moved no traffic"
    failed = ok(project.run("-o", "json", "history", "-e", "prod", "--limit", "1"))
    assert failed["entries"][0]["status"] == "failed" and failed["entries"][0]["operation"] == "swap"
    assert failed["last_known_good"]["prod"] == swapped["release"]
