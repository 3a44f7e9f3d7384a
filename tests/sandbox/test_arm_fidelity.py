"""What a client other than genaiops notices (issue 19), each with Azure's documented answer:
name rules, case-insensitive enums, resource scoping, environment deletes, published
api-versions, status-monitor URLs, the create body while provisioning, and LRO timing for a
stock SDK client that sets no polling_interval."""

from __future__ import annotations

import json
import ssl
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import conftest_arm
import pytest
from azure.core.exceptions import HttpResponseError
from azure.mgmt.appcontainers import models as m
from conftest_arm import ArmEnv, create_rg, start_env

arm_env = conftest_arm.arm_env

V = "?api-version=2026-07-01"


def _raw(env: ArmEnv, method: str, path: str, body: Any = None) -> tuple[int, dict[str, str], Any]:
    token = env.credential().get_token("https://management.azure.com/.default").token
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(env.url + path, data=data, method=method, headers=headers)
    ctx = ssl.create_default_context(cafile=env.ca)
    try:
        with urllib.request.urlopen(req, context=ctx) as resp:
            raw = resp.read()
            return resp.status, dict(resp.headers), json.loads(raw) if raw else None
    except urllib.error.HTTPError as err:
        raw = err.read()
        return err.code, dict(err.headers), json.loads(raw) if raw else None


def _rg_path(env: ArmEnv, rg: str) -> str:
    return f"/subscriptions/{env.subscription_id}/resourceGroups/{rg}"


def _env_body() -> dict[str, Any]:
    return {"location": "eastus2", "properties": {}}


def _app_body(env_id: str, mode: str = "Multiple", suffix: str = "v1") -> dict[str, Any]:
    return {
        "location": "eastus2",
        "properties": {
            "environmentId": env_id,
            "configuration": {"activeRevisionsMode": mode, "ingress": {"external": True, "targetPort": 8080}},
            "template": {
                "revisionSuffix": suffix,
                "containers": [{"name": "main", "image": "127.0.0.1:5000/agent:1"}],
            },
        },
    }


def _make_env(env: ArmEnv, rg: str, name: str = "cae") -> str:
    status, _, body = _raw(
        env, "PUT", f"{_rg_path(env, rg)}/providers/Microsoft.App/managedEnvironments/{name}{V}", _env_body()
    )
    assert status in (200, 201), body
    return body["id"]


def _put_app(env: ArmEnv, rg: str, name: str, body: dict[str, Any]) -> tuple[int, dict[str, str], Any]:
    return _raw(env, "PUT", f"{_rg_path(env, rg)}/providers/Microsoft.App/containerApps/{name}{V}", body)


# ------------------------------------------------------------------------------- names


@pytest.mark.parametrize(
    "name",
    ["MyApp", "1app", "a" * 33, "web--app", "app-", "a", "web_app"],
)
def test_container_app_names_follow_azure_rules(arm_env: ArmEnv, name: str) -> None:
    create_rg(arm_env, "rg-n")
    env_id = _make_env(arm_env, "rg-n")
    status, _, body = _put_app(arm_env, "rg-n", name, _app_body(env_id))
    # Azure: 400 ContainerAppInvalidName, "Invalid ContainerApp name 'X'. A name must consist of lower
    # case alphanumeric characters or '-', start with an alphabetic character, and end with an
    # alphanumeric character and cannot have '--'. The length must be between 2 and 32 ..."
    assert status == 400 and body["error"]["code"] == "ContainerAppInvalidName"
    assert f"Invalid ContainerApp name '{name}'" in body["error"]["message"]
    assert not arm_env.runtime.revisions  # nothing ran


def test_valid_edge_names_are_accepted(arm_env: ArmEnv) -> None:
    create_rg(arm_env, "rg-n")
    env_id = _make_env(arm_env, "rg-n")
    for name in ("ab", "a1-b2", "a" * 32):
        status, _, body = _put_app(arm_env, "rg-n", name, _app_body(env_id))
        assert status == 201, body


def test_environment_job_and_resource_group_names(arm_env: ArmEnv) -> None:
    create_rg(arm_env, "rg-n")
    status, _, body = _raw(
        arm_env,
        "PUT",
        f"{_rg_path(arm_env, 'rg-n')}/providers/Microsoft.App/managedEnvironments/Bad_Env{V}",
        _env_body(),
    )
    assert status == 400 and body["error"]["code"] == "ManagedEnvironmentInvalidName"
    env_id = _make_env(arm_env, "rg-n")
    job = {
        "location": "eastus2",
        "properties": {
            "environmentId": env_id,
            "configuration": {"triggerType": "manual", "replicaTimeout": 60},
            "template": {"containers": [{"name": "main", "image": "127.0.0.1:5000/job:1"}]},
        },
    }
    status, _, body = _raw(
        arm_env, "PUT", f"{_rg_path(arm_env, 'rg-n')}/providers/Microsoft.App/jobs/Nightly{V}", job
    )
    assert status == 400 and body["error"]["code"] == "ContainerAppJobInvalidName"
    # enums compare case-insensitively and come back spelled canonically
    status, _, body = _raw(
        arm_env, "PUT", f"{_rg_path(arm_env, 'rg-n')}/providers/Microsoft.App/jobs/nightly{V}", job
    )
    assert status == 201 and body["properties"]["configuration"]["triggerType"] == "Manual"
    # resource groups: letters, digits, '-', '.', '(', ')' and '_' only, not ending in '.'
    status, _, body = _raw(
        arm_env, "PUT", f"{_rg_path(arm_env, 'rg%20bad!')}?api-version=2024-11-01", {"location": "eastus2"}
    )
    assert status == 400 and body["error"]["code"] == "InvalidResourceGroup"
    assert "has these invalid characters: ' !'" in body["error"]["message"]
    status, _, _ = _raw(
        arm_env, "PUT", f"{_rg_path(arm_env, 'rg.(ok)_x-1')}?api-version=2024-11-01", {"location": "eastus2"}
    )
    assert status == 201


# ------------------------------------------------------------------------------- enums


def test_active_revisions_mode_is_case_insensitive(arm_env: ArmEnv) -> None:
    """Microsoft's Bicep samples send `activeRevisionsMode: 'single'`: that is Single mode."""
    create_rg(arm_env, "rg-e")
    env_id = _make_env(arm_env, "rg-e")
    body = _app_body(env_id, mode="single")
    body["properties"]["configuration"]["ingress"]["transport"] = "HTTP"
    status, _, created = _put_app(arm_env, "rg-e", "web", body)
    assert status == 201
    assert created["properties"]["configuration"]["activeRevisionsMode"] == "Single"
    assert created["properties"]["configuration"]["ingress"]["transport"] == "http"
    # Single semantics: a new template deactivates the previous revision
    body["properties"]["template"]["revisionSuffix"] = "v2"
    status, _, _ = _put_app(arm_env, "rg-e", "web", body)
    assert status == 200
    _, _, revs = _raw(
        arm_env, "GET", f"{_rg_path(arm_env, 'rg-e')}/providers/Microsoft.App/containerApps/web/revisions{V}"
    )
    active = {r["name"]: r["properties"]["active"] for r in revs["value"]}
    assert active == {"web--v1": False, "web--v2": True}


# ------------------------------------------------------------------------------- scoping


def test_delete_of_an_app_leaves_same_named_apps_in_other_groups(arm_env: ArmEnv) -> None:
    for rg in ("rg-a", "rg-b"):
        create_rg(arm_env, rg)
        env_id = _make_env(arm_env, rg)
        assert _put_app(arm_env, rg, "web", _app_body(env_id))[0] == 201
    domain_of = {}
    for rg in ("rg-a", "rg-b"):
        _, _, env = _raw(
            arm_env, "GET", f"{_rg_path(arm_env, rg)}/providers/Microsoft.App/managedEnvironments/cae{V}"
        )
        domain_of[rg] = env["properties"]["defaultDomain"]
    assert domain_of["rg-a"] != domain_of["rg-b"]
    status, _, _ = _raw(
        arm_env, "DELETE", f"{_rg_path(arm_env, 'rg-a')}/providers/Microsoft.App/containerApps/web{V}"
    )
    assert status in (200, 202, 204)
    # only rg-a's app was released, and only in rg-a's environment
    assert arm_env.runtime.removed_in == [("web", domain_of["rg-a"])]
    status, _, body = _raw(
        arm_env, "GET", f"{_rg_path(arm_env, 'rg-b')}/providers/Microsoft.App/containerApps/web{V}"
    )
    assert status == 200 and body["properties"]["provisioningState"] in ("Succeeded", "InProgress")


def test_deleting_an_environment_with_apps_is_refused_naming_them(arm_env: ArmEnv) -> None:
    create_rg(arm_env, "rg-d")
    env_id = _make_env(arm_env, "rg-d")
    assert _put_app(arm_env, "rg-d", "web", _app_body(env_id))[0] == 201
    client = arm_env.apps_client()
    started = time.monotonic()
    with pytest.raises(HttpResponseError) as info:
        client.managed_environments.begin_delete("rg-d", "cae").result()
    # a 4xx: the SDK does not retry it (a 500 was retried three times)
    assert info.value.status_code == 400 and time.monotonic() - started < 3
    assert info.value.error.code == "ManagedEnvironmentHasContainerApps"
    assert "web" in info.value.error.message
    # once the app is gone the environment deletes
    client.container_apps.begin_delete("rg-d", "web").result()
    client.managed_environments.begin_delete("rg-d", "cae").result()


# ------------------------------------------------------------------------- api-versions, LROs


def test_provider_document_lists_types_versions_and_regions(arm_env: ArmEnv) -> None:
    """az checks Providers_Get before it creates anything (registration, location allowed)."""
    status, _, body = _raw(
        arm_env,
        "GET",
        f"/subscriptions/{arm_env.subscription_id}/providers/Microsoft.App?api-version=2022-09-01",
    )
    assert status == 200 and body["registrationState"] == "Registered"
    apps = next(t for t in body["resourceTypes"] if t["resourceType"] == "containerApps")
    assert "2025-07-01" in apps["apiVersions"] and "East US 2" in apps["locations"]


def test_create_answers_progressing_with_a_per_type_status_monitor(arm_env: ArmEnv) -> None:
    create_rg(arm_env, "rg-l")
    env_id = _make_env(arm_env, "rg-l")
    status, headers, body = _put_app(arm_env, "rg-l", "web", _app_body(env_id))
    # ContainerApps_CreateOrUpdate's 201 example: InProgress / Progressing
    assert status == 201
    assert body["properties"]["provisioningState"] == "InProgress"
    assert body["properties"]["runningStatus"] == "Progressing"
    monitor = headers["Azure-AsyncOperation"]
    assert "/providers/Microsoft.App/locations/eastus2/containerappOperationStatuses/" in monitor
    # 2025-07-01 (az, Terraform) is served the same way
    status, _, body = _raw(
        arm_env,
        "GET",
        f"{_rg_path(arm_env, 'rg-l')}/providers/Microsoft.App/containerApps/web?api-version=2025-07-01",
    )
    assert status == 200 and body["name"] == "web"


def test_stock_client_without_polling_interval_creates_an_app_fast(tmp_path: Path) -> None:
    """azure-core reads Retry-After 0 as no header and sleeps its 30 s default; the stand-in sends
    Azure's small positive integer and answers the poll as soon as the revision is ready."""
    env = start_env(tmp_path, retry_after=1)  # the daemon default (daemon.py --retry-after)
    try:
        create_rg(env, "rg-s")
        from azure.mgmt.appcontainers import ContainerAppsAPIClient

        client = ContainerAppsAPIClient(
            env.credential(), env.subscription_id, base_url=env.url, connection_verify=env.ca
        )
        cae = client.managed_environments.begin_create_or_update(
            "rg-s", "cae", m.ManagedEnvironment(location="eastus2")
        ).result()
        status, headers, _ = _put_app(env, "rg-s", "probe", _app_body(cae.id))
        assert status == 201 and int(headers["Retry-After"]) >= 1
        started = time.monotonic()
        app = client.container_apps.begin_create_or_update(
            "rg-s",
            "web",
            m.ContainerApp(
                location="eastus2",
                managed_environment_id=cae.id,
                template=m.Template(containers=[m.Container(name="main", image="127.0.0.1:5000/agent:1")]),
            ),
        ).result()
        elapsed = time.monotonic() - started
        assert app.provisioning_state == "Succeeded"
        assert elapsed < 2.0, f"stock client took {elapsed:.1f} s"
    finally:
        env.endpoint.close()
    assert not env.recorded_violations()


def test_genaiops_paces_its_own_polls_against_the_stand_in(tmp_path: Path) -> None:
    """Stock clients get Retry-After 1; genaiops's own clients poll the stand-in at the profile's pace."""
    from genaiops_cli.core.cloud import AzureTarget
    from genaiops_cli.providers.azure.clients import arm_client

    env = start_env(tmp_path, retry_after=1)
    try:
        create_rg(env, "rg-p")
        creds = env.endpoint.credentials
        target = AzureTarget(
            cloud="sandbox",
            arm_endpoint=env.url,
            subscription_id=env.subscription_id,
            tenant_id=creds.tenant_id,
            client_id=creds.client_id,
            client_secret_file=str(creds.secret_file),
            authority_host=env.url,
            ca_bundle=env.ca,
            poll_seconds=0.05,
        )
        from azure.mgmt.appcontainers import ContainerAppsAPIClient

        client = arm_client(ContainerAppsAPIClient, target)
        list(client.managed_environments.list_by_resource_group("rg-p"))  # token and connection warm
        started = time.monotonic()
        client.managed_environments.begin_create_or_update(
            "rg-p", "cae", m.ManagedEnvironment(location="eastus2")
        ).result()
        assert time.monotonic() - started < 0.95  # not one Retry-After of 1 s (which alone takes 1.0)
    finally:
        env.endpoint.close()


def test_replicas_report_restart_counts_as_azure_does(arm_env: ArmEnv) -> None:
    """ContainerAppsRevisionReplicas: a replica per running revision, its container's restartCount."""
    create_rg(arm_env, "rg-r")
    client = arm_env.apps_client()
    cae = client.managed_environments.begin_create_or_update(
        "rg-r", "cae", m.ManagedEnvironment(location="eastus2")
    ).result()
    client.container_apps.begin_create_or_update(
        "rg-r",
        "web",
        m.ContainerApp(
            location="eastus2",
            managed_environment_id=cae.id,
            configuration=m.Configuration(active_revisions_mode="Multiple"),
            template=m.Template(
                revision_suffix="v1", containers=[m.Container(name="main", image="127.0.0.1:5000/agent:1")]
            ),
        ),
    ).result()
    arm_env.runtime.crash_restarts["web--v1"] = 2
    replicas = list(client.container_apps_revision_replicas.list_replicas("rg-r", "web", "web--v1").value)
    assert len(replicas) == 1
    replica = client.container_apps_revision_replicas.get_replica("rg-r", "web", "web--v1", replicas[0].name)
    assert replica.running_state == "Running"
    assert replica.containers[0].restart_count == 2 and replica.containers[0].ready is True
    client.container_apps_revisions.deactivate_revision("rg-r", "web", "web--v1")
    assert list(client.container_apps_revision_replicas.list_replicas("rg-r", "web", "web--v1").value) == []
