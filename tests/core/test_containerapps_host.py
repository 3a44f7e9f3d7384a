"""The Container Apps host (core/hosts/containerapps.py over core/deploy.py) against an in-memory
fake of the ContainerAppsApi port: revisions become ready (or fail) as the fake says, traffic is
what the last complete write said. Blue/green, swap, rollback, endpoints and the failure path —
no Docker, no stand-in. Also: a host kind with no implementation fails deploy with exit 7."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from genaiops_cli.core.environment import open_environment
from genaiops_cli.core.hosts.containerapps import ContainerAppsHost
from genaiops_cli.errors import DeployError, UsageError
from tests.core.fakes import MANIFEST, World

D1 = "sha256:" + "1" * 64
D2 = "sha256:" + "2" * 64
ENV_ID = "/subscriptions/s/resourceGroups/rg-prod/providers/Microsoft.App/managedEnvironments/cae-prod"


class MemoryArm:
    """Container Apps as ARM keeps them: apps with tags and ingress traffic, and their revisions."""

    def __init__(self) -> None:
        self.apps: dict[str, dict[str, Any]] = {}
        self.revs: dict[str, dict[str, dict[str, Any]]] = {}
        self.failing: set[str] = set()  # images whose revisions fail to start
        self.writes: list[tuple[str, str]] = []

    def managed_environment(self, name: str) -> dict[str, Any]:
        return {"id": ENV_ID, "location": "eastus2", "properties": {"defaultDomain": "prod.example.net"}}

    def connected_environment(self, name: str) -> dict[str, Any]:
        raise DeployError("no connected environments here")

    def get_app(self, name: str) -> dict[str, Any] | None:
        return copy.deepcopy(self.apps.get(name))

    def put_app(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        self.writes.append(("put", name))
        app = copy.deepcopy(body)
        app["name"] = name
        app["properties"]["configuration"]["ingress"]["fqdn"] = f"{name}.prod.example.net"
        suffix = body["properties"]["template"]["revisionSuffix"]
        image = body["properties"]["template"]["containers"][0]["image"]
        failed = any(d in image for d in self.failing)
        self.revs.setdefault(name, {})[f"{name}--{suffix}"] = {
            "name": f"{name}--{suffix}",
            "properties": {
                "active": True,
                "provisioningState": "Failed" if failed else "Provisioned",
                "runningState": "Failed" if failed else "Running",
                "healthState": "Unhealthy" if failed else "Healthy",
                "provisioningError": "container exited with code 1" if failed else None,
                "template": body["properties"]["template"],
                "createdTime": f"2026-01-01T00:00:{len(self.writes):02d}Z",
            },
        }
        self.apps[name] = app
        return copy.deepcopy(app)

    def patch_app(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        self.writes.append(("patch", name))
        app = self.apps[name]
        app["tags"] = dict(body["tags"])
        app["properties"]["configuration"]["ingress"]["traffic"] = body["properties"]["configuration"][
            "ingress"
        ]["traffic"]
        return copy.deepcopy(app)

    def delete_app(self, name: str) -> None:
        self.writes.append(("delete", name))
        self.apps.pop(name, None)
        self.revs.pop(name, None)

    def revisions(self, app: str) -> list[dict[str, Any]]:
        return copy.deepcopy(list(self.revs.get(app, {}).values()))

    def revision(self, app: str, revision: str) -> dict[str, Any] | None:
        return copy.deepcopy(self.revs.get(app, {}).get(revision))

    def activate(self, app: str, revision: str) -> None:
        self.revs[app][revision]["properties"]["active"] = True

    def deactivate(self, app: str, revision: str) -> None:
        self.revs[app][revision]["properties"]["active"] = False

    def restart(self, app: str, revision: str) -> None:
        """As Azure: only an active revision restarts; it comes back healthy unless its image still
        fails (a deactivated failed revision re-activated without a restart stays failed)."""
        self.writes.append(("restart", revision))
        props = self.revs[app][revision]["properties"]
        if not props["active"]:
            raise DeployError(f"Revision '{revision}' is not active and cannot be restarted.")
        image = props["template"]["containers"][0]["image"]
        failed = any(d in image for d in self.failing)
        props.update(
            provisioningState="Failed" if failed else "Provisioned",
            runningState="Failed" if failed else "Running",
            healthState="Unhealthy" if failed else "Healthy",
            provisioningError="container exited with code 1" if failed else None,
        )

    def traffic(self, app: str) -> dict[str, int]:
        entries = self.apps[app]["properties"]["configuration"]["ingress"]["traffic"]
        return {t["revisionName"]: t["weight"] for t in entries}


@pytest.fixture
def host(tmp_path: Path) -> tuple[ContainerAppsHost, MemoryArm]:
    world = World(tmp_path)
    arm = MemoryArm()
    env = world.envs["prod"]
    return ContainerAppsHost(env, arm), arm


def image(digest: str) -> str:
    return f"crprod.azurecr.io/demo/agent@{digest}"


def quiet(service: str, message: str) -> None:
    pass


def test_blue_green_deploy_stages_then_swap_moves_all_traffic_in_one_write(host: Any) -> None:
    h, arm = host
    first = h.deploy("agent", image(D1), 5, quiet)
    assert first.action == "created" and first.revision == h.expected_revision("agent", image(D1))
    assert arm.traffic("demo-agent") == {first.revision: 100}

    second = h.deploy("agent", image(D2), 5, quiet)
    assert second.action == "staged" and second.label
    assert arm.traffic("demo-agent") == {first.revision: 100, second.revision: 0}, "live keeps 100 %"
    assert h.endpoint("agent", "staged").url == f"https://demo-agent---{second.label}.prod.example.net"
    assert h.endpoint("agent", "live").url == "https://demo-agent.prod.example.net"
    assert h.current("agent").staged == second.revision

    writes = len(arm.writes)
    swapped = h.swap("agent", quiet, {"genaiops-release": "r2"})
    assert swapped["live"] == second.revision and len(arm.writes) == writes + 1
    assert arm.traffic("demo-agent")[second.revision] == 100
    now = h.current("agent")
    assert (now.live, now.digest, now.release, now.matches_manifest) == (second.revision, D2, "r2", True)

    back = h.rollback("agent", 5, quiet)
    assert back["live"] == first.revision and arm.traffic("demo-agent")[first.revision] == 100


def test_redeploying_what_is_live_changes_nothing(host: Any) -> None:
    h, arm = host
    h.deploy("agent", image(D1), 5, quiet)
    writes = len(arm.writes)
    again = h.deploy("agent", image(D1), 5, quiet)
    assert again.action == "unchanged" and len(arm.writes) == writes


def test_a_failing_revision_is_deactivated_and_live_keeps_its_traffic(host: Any) -> None:
    h, arm = host
    live = h.deploy("agent", image(D1), 5, quiet)
    arm.failing.add(D2)
    with pytest.raises(DeployError, match="exited with code 1") as failed:
        h.deploy("agent", image(D2), 5, quiet)
    assert failed.value.code == "revision_failed"
    assert arm.traffic("demo-agent") == {live.revision: 100}
    bad = h.expected_revision("agent", image(D2))
    assert arm.revision("demo-agent", bad)["properties"]["active"] is False


def test_status_and_missing_sides(host: Any) -> None:
    h, _ = host
    assert h.status("agent") == {"service": "agent", "app": "demo-agent", "deployed": False, "revisions": []}
    with pytest.raises(DeployError):
        h.endpoint("agent", "live")
    h.deploy("agent", image(D1), 5, quiet)
    with pytest.raises(DeployError, match="nothing staged"):
        h.swap("agent", quiet)
    assert [r["role"] for r in h.status("agent")["revisions"]] == ["live"]


def test_opening_an_environment_merges_provisioned_outputs_into_a_copy(tmp_path: Path) -> None:
    from genaiops_cli.core.manifest.loader import load_manifest
    from genaiops_cli.core.provisioning import ProvisionedState

    (tmp_path / "src" / "agent").mkdir(parents=True)
    (tmp_path / "genaiops.yaml").write_text(MANIFEST.replace("    registry: crprod\n", ""))
    manifest = load_manifest(tmp_path / "genaiops.yaml")
    state = ProvisionedState("prod", "rg-prod", "d", outputs={"registryName": "crfromarm"})
    env = open_environment(manifest, "prod", cloud=None, host_factories={}, provisioned=state)  # type: ignore[arg-type]
    assert env.config.registry == "crfromarm"
    assert not manifest.environment("prod").config.registry, "the manifest is not edited"
    with pytest.raises(DeployError) as missing:
        env.host("agent")
    assert missing.value.code == "host_not_implemented"


def test_a_host_kind_with_no_implementation_fails_with_exit_7(tmp_path: Path) -> None:
    """Every manifest host kind is wired today (foundry-agent since the Foundry host landed); the
    table still maps a kind to None for one accepted but not implemented, and that fails exit 7."""
    from genaiops_cli.core.manifest.loader import load_manifest
    from genaiops_cli.errors import ExitCode
    from genaiops_cli.wiring import HOSTS

    assert all(HOSTS[kind] is not None for kind in ("containerapp", "foundry-agent"))
    (tmp_path / "src" / "agent").mkdir(parents=True)
    text = MANIFEST.replace(
        "    ingress: {port: 8080, health: /healthz}\n",
        "    host: foundry-agent\n    agent: {model: gpt-4o-mini}\n",
    ).replace(
        "      - name: health\n        request: {path: /healthz}\n        expect: {status: 200}\n",
        "      []\n",
    )
    text = text.replace("    smoke:\n      []\n", "")
    (tmp_path / "genaiops.yaml").write_text(text)
    manifest = load_manifest(tmp_path / "genaiops.yaml")
    env = open_environment(
        manifest,
        "prod",
        cloud=None,
        host_factories={"containerapp": None, "foundry-agent": None},
        provisioned=None,
    )  # type: ignore[arg-type]
    with pytest.raises(DeployError) as missing:
        env.host("agent")
    assert missing.value.code == "host_not_implemented" and missing.value.exit_code == ExitCode.DEPLOY
    assert "foundry-agent" in missing.value.message


def test_redeploying_a_release_whose_revision_failed_transiently_restarts_it(host: Any) -> None:
    h, arm = host
    live = h.deploy("agent", image(D1), 5, quiet)
    arm.failing.add(D2)  # e.g. a dependency down while the revision started
    with pytest.raises(DeployError) as failed:
        h.deploy("agent", image(D2), 5, quiet)
    assert "re-run the same deploy" in (failed.value.hint or "") and "restart" in (failed.value.hint or "")
    bad = h.expected_revision("agent", image(D2))
    arm.failing.clear()  # the cause went away: the same release, the same revision name
    again = h.deploy("agent", image(D2), 5, quiet)
    assert again.revision == bad and again.action == "staged"
    assert ("restart", bad) in arm.writes, "the failed revision was restarted, not just re-activated"
    assert arm.traffic("demo-agent") == {live.revision: 100, bad: 0}


def test_redeploying_a_release_that_still_fails_fails_again_and_keeps_live(host: Any) -> None:
    h, arm = host
    live = h.deploy("agent", image(D1), 5, quiet)
    arm.failing.add(D2)
    for _ in range(2):
        with pytest.raises(DeployError, match="exited with code 1"):
            h.deploy("agent", image(D2), 5, quiet)
    bad = h.expected_revision("agent", image(D2))
    assert arm.traffic("demo-agent") == {live.revision: 100}
    assert arm.revision("demo-agent", bad)["properties"]["active"] is False


def test_restart_restarts_the_live_revision_in_place_and_a_named_one(host: Any, monkeypatch: Any) -> None:
    import genaiops_cli.core.deploy as dep

    monkeypatch.setattr(dep, "RESTART_GRACE_SECONDS", 0.0)  # the fake reports the new state at once
    h, arm = host
    live = h.deploy("agent", image(D1), 5, quiet)
    staged = h.deploy("agent", image(D2), 5, quiet)
    writes = [w for w in arm.writes if w[0] != "restart"]
    done = h.restart("agent", None, 5, quiet)
    assert done == {"service": "agent", "app": "demo-agent", "revision": live.revision, "role": "live"}
    assert done["revision"] == live.revision and ("restart", live.revision) in arm.writes
    assert h.restart("agent", staged.revision, 5, quiet)["role"] == "staged"
    assert [w for w in arm.writes if w[0] != "restart"] == writes, "a restart writes no traffic"
    assert arm.traffic("demo-agent") == {live.revision: 100, staged.revision: 0}
    with pytest.raises(UsageError, match="no revision"):
        h.restart("agent", "demo-agent--nope", 5, quiet)


def test_restart_of_a_revision_that_keeps_failing_raises_and_moves_no_traffic(
    host: Any, monkeypatch: Any
) -> None:
    import genaiops_cli.core.deploy as dep

    monkeypatch.setattr(dep, "RESTART_GRACE_SECONDS", 0.0)
    h, arm = host
    live = h.deploy("agent", image(D1), 5, quiet)
    arm.failing.add(D1)
    with pytest.raises(DeployError, match="failed") as failed:
        h.restart("agent", None, 5, quiet)
    assert failed.value.code == "revision_failed"
    assert arm.traffic("demo-agent") == {live.revision: 100}
    assert arm.revision("demo-agent", live.revision)["properties"]["active"] is True, "live never deactivated"


def test_remove_deletes_the_app_with_its_revisions(host: Any) -> None:
    """For a first release that failed its gates (nothing to roll back to): one ARM delete."""
    h, arm = host
    h.deploy("agent", image(D1), 5, quiet)
    assert h.remove("agent", quiet) == {"service": "agent", "app": "demo-agent", "removed": True}
    assert arm.writes[-1] == ("delete", "demo-agent") and not h.current("agent").deployed
    assert h.status("agent")["revisions"] == []
    assert h.remove("agent", quiet)["removed"] is False and arm.writes[-1] == ("delete", "demo-agent")
