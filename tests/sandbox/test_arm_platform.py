"""The ARM endpoint as a platform: Entra-style tokens, 401s, api-versions, LRO headers per spec,
fault injection recovered by the SDK retry policy, persistence across restarts, and speed."""

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
from azure.core.exceptions import ClientAuthenticationError
from azure.mgmt.appcontainers import models as m
from conftest_arm import ArmEnv, create_rg, start_env

from genaiops_sandbox.faults import FaultInjector, FaultRule
from genaiops_sandbox.profile import Profile

arm_env = conftest_arm.arm_env  # the shared fixture, re-exported for pytest

RG = "rg-test"


def _raw(
    env: ArmEnv,
    method: str,
    path: str,
    body: Any = None,
    token: str | None = "auto",
) -> tuple[int, dict[str, str], Any]:
    headers = {"Content-Type": "application/json"}
    if token == "auto":
        token = env.credential().get_token("https://management.azure.com/.default").token
    if token:
        headers["Authorization"] = f"Bearer {token}"
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


def _sub(env: ArmEnv) -> str:
    return f"/subscriptions/{env.subscription_id}"


def test_resource_groups_through_the_real_resource_client(arm_env: ArmEnv) -> None:
    from azure.mgmt.resource.resources import ResourceManagementClient

    client = ResourceManagementClient(
        arm_env.credential(),
        arm_env.subscription_id,
        base_url=arm_env.url,
        connection_verify=arm_env.ca,
        polling_interval=0,
    )
    rg = client.resource_groups.create_or_update("rg-One", {"location": "eastus2", "tags": {"env": "dev"}})
    assert rg.properties.provisioning_state == "Succeeded" and rg.tags == {"env": "dev"}
    assert client.resource_groups.check_existence("RG-ONE") is True  # ARM ids are case-insensitive
    assert client.resource_groups.check_existence("rg-two") is False
    assert client.resource_groups.get("rg-one").name == "rg-One"
    client.resource_groups.begin_delete("rg-one").result()
    assert client.resource_groups.check_existence("rg-one") is False


def test_missing_or_bad_token_gets_arm_401(arm_env: ArmEnv) -> None:
    path = f"{_sub(arm_env)}/resourcegroups/x?api-version=2024-11-01"
    status, headers, body = _raw(arm_env, "GET", path, token=None)
    assert status == 401 and body["error"]["code"] == "AuthenticationFailed"
    assert headers["WWW-Authenticate"].startswith("Bearer authorization_uri=")
    status, _, body = _raw(arm_env, "GET", path, token="not.a.jwt")
    assert status == 401 and body["error"]["code"] == "InvalidAuthenticationToken"
    wrong_aud = arm_env.credential().get_token("https://vault.azure.net/.default").token
    status, _, body = _raw(arm_env, "GET", path, token=wrong_aud)
    assert status == 401 and body["error"]["code"] == "InvalidAuthenticationTokenAudience"


def test_token_endpoint_rejects_a_wrong_secret(arm_env: ArmEnv) -> None:
    from azure.identity import ClientSecretCredential

    creds = arm_env.endpoint.credentials
    bad = ClientSecretCredential(
        creds.tenant_id,
        creds.client_id,
        "wrong",
        authority=arm_env.url,
        disable_instance_discovery=True,
        connection_verify=arm_env.ca,
    )
    with pytest.raises(ClientAuthenticationError):
        bad.get_token("https://management.azure.com/.default")
    secret_file = arm_env.state_dir / "client-secret"
    assert secret_file.stat().st_mode & 0o777 == 0o600


def test_api_version_and_unknown_routes(arm_env: ArmEnv) -> None:
    create_rg(arm_env, RG)
    base = f"{_sub(arm_env)}/resourceGroups/{RG}/providers/Microsoft.App/containerApps"
    # ARM: a well-formed version the provider does not serve names the type and the served versions
    status, _, body = _raw(arm_env, "GET", base + "?api-version=2019-01-01")
    assert status == 400 and body["error"]["code"] == "NoRegisteredProviderFound"
    assert "API version '2019-01-01' for type 'containerApps'" in body["error"]["message"]
    assert "The supported api-versions are '2025-07-01, 2026-07-01'" in body["error"]["message"]
    # ... a malformed one is InvalidApiVersionParameter
    status, _, body = _raw(arm_env, "GET", base + "?api-version=latest")
    assert status == 400 and body["error"]["code"] == "InvalidApiVersionParameter"
    # every published version whose shape the specs hold is served (az CLI / Terraform: 2025-07-01)
    for version in ("2025-07-01", "2026-07-01"):
        status, _, body = _raw(arm_env, "GET", base + f"?api-version={version}")
        assert status == 200 and body == {"value": []}
    status, _, body = _raw(arm_env, "GET", base)
    assert status == 400 and body["error"]["code"] == "MissingApiVersionParameter"
    status, _, body = _raw(
        arm_env,
        "GET",
        f"{_sub(arm_env)}/resourceGroups/{RG}/providers/Microsoft.App/widgets/w?api-version=2026-07-01",
    )
    assert status == 404 and body["error"]["code"] == "InvalidResourceType"
    status, _, body = _raw(arm_env, "GET", base + "/missing?api-version=2026-07-01")
    assert status == 404 and body["error"]["code"] == "ResourceNotFound"


def test_lro_headers_follow_each_operation_spec(arm_env: ArmEnv) -> None:
    create_rg(arm_env, RG)
    v = "?api-version=2026-07-01"
    rg = f"{_sub(arm_env)}/resourceGroups/{RG}"
    # ManagedEnvironments_CreateOrUpdate: 201 + Location (the spec), and Azure-AsyncOperation (Azure
    # sends it too, and az polls it)
    status, headers, body = _raw(
        arm_env, "PUT", f"{rg}/providers/Microsoft.App/managedEnvironments/cae{v}", {"location": "eastus2"}
    )
    assert (
        status == 201
        and "Location" in headers
        and "managedEnvironmentOperationStatuses" in headers["Azure-AsyncOperation"]
    )
    assert (
        headers["Retry-After"] == "0"
        and body["properties"]["provisioningState"] == "InitializationInProgress"
    )
    env_id = body["id"]
    # operation results move InProgress → Succeeded and then return the resource
    status, _, result = _raw(arm_env, "GET", headers["Location"].removeprefix(arm_env.url))
    assert status == 200 and result["properties"]["provisioningState"] == "Succeeded"
    # ContainerApps_CreateOrUpdate: 201 + Azure-AsyncOperation; status resource shape
    app = {
        "location": "eastus2",
        "properties": {
            "environmentId": env_id,
            "template": {"containers": [{"name": "main", "image": "127.0.0.1:5000/a:1"}]},
        },
    }
    status, headers, body = _raw(arm_env, "PUT", f"{rg}/providers/Microsoft.App/containerApps/a1{v}", app)
    assert status == 201 and "Azure-AsyncOperation" in headers
    assert body["properties"]["provisioningState"] == "InProgress"
    monitor = headers["Azure-AsyncOperation"].removeprefix(arm_env.url)
    seen = []
    for _ in range(5):
        status, _, op = _raw(arm_env, "GET", monitor)
        assert status == 200 and op["name"] and op["startTime"] and op["id"].endswith(op["name"])
        seen.append(op["status"])
        if op["status"] != "InProgress":
            break
    assert seen[-1] == "Succeeded" and op["endTime"]
    # ContainerApps_Update and _Delete: 202 + Location
    status, headers, _ = _raw(
        arm_env,
        "PATCH",
        f"{rg}/providers/Microsoft.App/containerApps/a1{v}",
        {"location": "eastus2", "tags": {"a": "b"}},
    )
    assert status == 202 and "Location" in headers
    status, headers, _ = _raw(arm_env, "DELETE", f"{rg}/providers/Microsoft.App/containerApps/a1{v}")
    assert status == 202 and "Location" in headers
    status, _, _ = _raw(arm_env, "GET", headers["Location"].removeprefix(arm_env.url))
    assert status == 200


def test_retry_after_is_configurable(tmp_path: Path) -> None:
    env = start_env(tmp_path, retry_after=7)
    try:
        create_rg(env, RG)
        status, headers, _ = _raw(
            env,
            "PUT",
            f"{_sub(env)}/resourceGroups/{RG}/providers/Microsoft.App/"
            "managedEnvironments/cae?api-version=2026-07-01",
            {"location": "eastus2"},
        )
        assert status == 201 and headers["Retry-After"] == "7"
    finally:
        env.endpoint.close()


@pytest.mark.parametrize("kind", ["429", "500", "drop"])
def test_injected_faults_are_recovered_by_the_sdk_retry_policy(arm_env: ArmEnv, kind: str) -> None:
    create_rg(arm_env, RG)
    client = arm_env.apps_client(retry_backoff_factor=0.05)
    client.managed_environments.begin_create_or_update(
        RG, "cae", m.ManagedEnvironment(location="eastus2")
    ).result()
    profile = Profile(
        arm_endpoint=arm_env.url,
        authority_host=arm_env.url,
        tenant_id="",
        client_id="",
        client_secret_file="",
        subscription_id=arm_env.subscription_id,
        ca_bundle=arm_env.ca,
        docker_host="",
        router="",
    )
    injector = FaultInjector(profile)
    injector.add("GET", r"/managedEnvironments/cae$", kind, count=2, retry_after=0)
    assert len(injector.rules()) == 1
    started = time.monotonic()
    assert client.managed_environments.get(RG, "cae").name == "cae"
    assert injector.rules() == []  # both injected failures were consumed by retries
    assert time.monotonic() - started < 5


def test_latency_fault_delays_the_answer(arm_env: ArmEnv) -> None:
    create_rg(arm_env, RG)
    arm_env.faults.add(
        FaultRule(method="GET", path_regex="resourcegroups/rg-test$", kind="latency", latency_ms=300)
    )
    started = time.monotonic()
    status, _, _ = _raw(arm_env, "GET", f"{_sub(arm_env)}/resourcegroups/{RG}?api-version=2024-11-01")
    assert status == 200 and time.monotonic() - started >= 0.3


def test_drop_after_handles_the_write_and_loses_its_answer(arm_env: ArmEnv) -> None:
    """`drop_after`: the client sees the connection close with no answer, yet the write landed (the
    unknown-outcome case); `drop` (before) leaves nothing behind."""
    import http.client

    path = f"{_sub(arm_env)}/resourcegroups/rg-dropped-%s?api-version=2024-11-01"
    body = {"location": "eastus2"}
    arm_env.faults.add(FaultRule(method="PUT", path_regex="rg-dropped-after", kind="drop_after"))
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError, urllib.error.URLError)):
        _raw(arm_env, "PUT", path % "after", body)
    assert _raw(arm_env, "GET", path % "after")[0] == 200
    arm_env.faults.add(FaultRule(method="PUT", path_regex="rg-dropped-before", kind="drop"))
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError, urllib.error.URLError)):
        _raw(arm_env, "PUT", path % "before", body)
    assert _raw(arm_env, "GET", path % "before")[0] == 404


def test_state_survives_a_restart(tmp_path: Path) -> None:
    env = start_env(tmp_path)
    create_rg(env, RG)
    client = env.apps_client()
    env_id = (
        client.managed_environments.begin_create_or_update(
            RG, "cae", m.ManagedEnvironment(location="eastus2")
        )
        .result()
        .id
    )
    env.endpoint.close()
    again = start_env(tmp_path)
    try:
        assert again.subscription_id == env.subscription_id
        assert again.apps_client().managed_environments.get(RG, "cae").id == env_id
    finally:
        again.endpoint.close()


def test_create_or_update_lro_is_fast(arm_env: ArmEnv) -> None:
    create_rg(arm_env, RG)
    client = arm_env.apps_client()
    env = client.managed_environments.begin_create_or_update(
        RG, "cae", m.ManagedEnvironment(location="eastus2")
    ).result()
    app = m.ContainerApp(
        location="eastus2",
        managed_environment_id=env.id,
        template=m.Template(containers=[m.Container(name="main", image="127.0.0.1:5000/a:1")]),
    )
    timings = []
    for i in range(3):
        started = time.perf_counter()
        client.container_apps.begin_create_or_update(RG, f"fast{i}", app).result()
        timings.append(time.perf_counter() - started)
    shown = ", ".join(f"{t * 1000:.0f} ms" for t in timings)
    print(f"container app create-or-update LRO (Retry-After 0): {shown}")
    assert min(timings) < 0.5
