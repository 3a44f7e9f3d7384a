"""The stand-in's Key Vault (keyvault.py) through the real azure-keyvault-secrets SecretClient — its
bearer challenge flow, set / get / get a version / list versions / list — and Container Apps reading
`keyVaultUrl` secrets when a revision starts (arm/secrets.py): the value reaches the container's env,
a missing secret or an identity the app lacks fails the revision with Azure's provisioning error, a
restart after the fix reads the secret afresh. A vault a template declares gets a vaultUri that
serves its data plane."""

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
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.appcontainers import models as m
from conftest_arm import ArmEnv, create_rg

from genaiops_sandbox.keyvault import VaultService
from genaiops_sandbox.tokens import TokenIssuer

arm_env = conftest_arm.arm_env  # the shared fixture, re-exported for pytest

RG = "rg-kv"


@pytest.fixture
def vaults(arm_env: ArmEnv, tmp_path: Path) -> Any:
    creds = arm_env.endpoint.credentials
    service = VaultService(
        arm_env.state_dir,
        arm_env.state_dir / "tls",
        TokenIssuer(arm_env.state_dir),
        arm_env.url,
        creds.tenant_id,
    )
    arm_env.endpoint.api.vaults = service
    yield service
    service.close()


def secret_client(env: ArmEnv, vault_uri: str) -> Any:
    from azure.keyvault.secrets import SecretClient

    # the vault is served at 127.0.0.1, which is not a subdomain of the challenge's resource
    # (https://vault.azure.net): the documented switch for such hosts
    return SecretClient(
        vault_uri, env.credential(), verify_challenge_resource=False, connection_verify=env.ca
    )


def test_secret_client_sets_gets_versions_and_lists(arm_env: ArmEnv, vaults: VaultService) -> None:
    uri = vaults.ensure("kv-one")
    client = secret_client(arm_env, uri)
    first = client.set_secret("openai-key", "value-1", content_type="text/plain")
    second = client.set_secret("openai-key", "value-2")
    assert first.properties.version != second.properties.version
    assert first.properties.vault_url.rstrip("/") == uri.rstrip("/") and first.name == "openai-key"
    assert client.get_secret("openai-key").value == "value-2"
    assert client.get_secret("openai-key", first.properties.version).value == "value-1"
    versions = {p.version for p in client.list_properties_of_secret_versions("openai-key")}
    assert versions == {first.properties.version, second.properties.version}
    assert [p.name for p in client.list_properties_of_secrets()] == ["openai-key"]
    with pytest.raises(ResourceNotFoundError, match="SecretNotFound|not found"):
        client.get_secret("missing")


def test_a_token_for_another_audience_gets_the_challenge(arm_env: ArmEnv, vaults: VaultService) -> None:
    uri = vaults.ensure("kv-aud")
    token = arm_env.credential().get_token("https://management.azure.com/.default").token
    req = urllib.request.Request(
        f"{uri}secrets/x?api-version=7.6", headers={"Authorization": f"Bearer {token}"}
    )
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(req, context=ssl.create_default_context(cafile=arm_env.ca))
    challenge = caught.value.headers["WWW-Authenticate"]
    assert caught.value.code == 401 and 'resource="https://vault.azure.net"' in challenge
    assert f"{arm_env.url}/{arm_env.endpoint.credentials.tenant_id}" in challenge


def _app(
    env_id: str, kv_url: str, identity: m.ManagedServiceIdentity, secret_identity: str
) -> m.ContainerApp:
    return m.ContainerApp(
        location="eastus2",
        managed_environment_id=env_id,
        identity=identity,
        configuration=m.Configuration(
            active_revisions_mode="Multiple",
            ingress=m.Ingress(external=True, target_port=8080),
            secrets=[
                m.Secret(name="openai-key", key_vault_url=kv_url, identity=secret_identity),
                m.Secret(name="plain", value="plain-value"),
            ],
        ),
        template=m.Template(
            revision_suffix="v1",
            containers=[
                m.Container(
                    name="main",
                    image="127.0.0.1:5000/agent:1",
                    env=[
                        m.EnvironmentVar(name="OPENAI_KEY", secret_ref="openai-key"),
                        m.EnvironmentVar(name="PLAIN", secret_ref="plain"),
                        m.EnvironmentVar(name="COLOR", value="blue"),
                    ],
                    resources=m.ContainerResources(cpu=0.5, memory="1Gi"),
                )
            ],
        ),
    )


def _environment(arm_env: ArmEnv) -> tuple[Any, str]:
    create_rg(arm_env, RG)
    client = arm_env.apps_client()
    cae = client.managed_environments.begin_create_or_update(
        RG, "cae", m.ManagedEnvironment(location="eastus2")
    )
    return client, cae.result().id


def _wait_status(client: Any, app: str, revision: str) -> Any:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        rev = client.container_apps_revisions.get_revision(RG, app, revision)
        if rev.provisioning_state in ("Provisioned", "Failed") and rev.running_state != "Processing":
            return rev
        time.sleep(0.05)
    raise AssertionError(f"revision {revision} did not settle")


def test_a_key_vault_secret_reaches_the_container_env_and_never_a_get(
    arm_env: ArmEnv, vaults: VaultService
) -> None:
    uri = vaults.ensure("kv-app")
    secret_client(arm_env, uri).set_secret("openai-key", "s3cr3t-from-the-vault")
    client, env_id = _environment(arm_env)
    app = client.container_apps.begin_create_or_update(
        RG,
        "web",
        _app(env_id, f"{uri}secrets/openai-key", m.ManagedServiceIdentity(type="SystemAssigned"), "system"),
    ).result()
    spec = arm_env.runtime.revisions["web--v1"]
    assert spec.failure is None
    assert spec.containers[0].env == {
        "OPENAI_KEY": "s3cr3t-from-the-vault",
        "PLAIN": "plain-value",
        "COLOR": "blue",
    }
    # secret values never come back from ARM
    assert "s3cr3t" not in json.dumps(app.as_dict()) and "plain-value" not in json.dumps(app.as_dict())


def test_a_missing_secret_fails_the_revision_and_a_restart_after_the_fix_reads_it(
    arm_env: ArmEnv, vaults: VaultService
) -> None:
    uri = vaults.ensure("kv-late")
    client, env_id = _environment(arm_env)
    poller = client.container_apps.begin_create_or_update(
        RG,
        "late",
        _app(env_id, f"{uri}secrets/openai-key", m.ManagedServiceIdentity(type="SystemAssigned"), "system"),
    )
    with pytest.raises(HttpResponseError) as caught:
        poller.result()
    message = str(caught.value)
    assert "Failed to provision revision for container app 'late'" in message
    assert "Unable to get value using Managed identity system for secret openai-key" in message
    rev = _wait_status(client, "late", "late--v1")
    assert rev.provisioning_state == "Failed"

    secret_client(arm_env, uri).set_secret("openai-key", "now-there")
    client.container_apps_revisions.restart_revision(RG, "late", "late--v1")
    assert arm_env.runtime.revisions["late--v1"].containers[0].env["OPENAI_KEY"] == "now-there"
    assert _wait_status(client, "late", "late--v1").running_state == "Running"


def test_an_identity_the_app_does_not_have_fails_the_revision(arm_env: ArmEnv, vaults: VaultService) -> None:
    uri = vaults.ensure("kv-id")
    secret_client(arm_env, uri).set_secret("openai-key", "v")
    client, env_id = _environment(arm_env)
    other = (
        f"/subscriptions/{arm_env.subscription_id}/resourceGroups/{RG}"
        "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-other"
    )
    with pytest.raises(HttpResponseError, match="is not assigned to the container app"):
        client.container_apps.begin_create_or_update(
            RG,
            "noid",
            _app(env_id, f"{uri}secrets/openai-key", m.ManagedServiceIdentity(type="SystemAssigned"), other),
        ).result()


def test_a_secret_ref_to_an_undefined_secret_is_refused_at_write(
    arm_env: ArmEnv, vaults: VaultService
) -> None:
    client, env_id = _environment(arm_env)
    body = _app(
        env_id,
        "https://kv.vault.azure.net/secrets/x",
        m.ManagedServiceIdentity(type="SystemAssigned"),
        "system",
    )
    body.configuration.secrets = [m.Secret(name="plain", value="p")]
    with pytest.raises(HttpResponseError, match="secret openai-key is not defined"):
        client.container_apps.begin_create_or_update(RG, "bad", body).result()


def test_a_template_vault_gets_a_vault_uri_that_serves_its_secrets(
    arm_env: ArmEnv, vaults: VaultService
) -> None:
    from azure.mgmt.resource.deployments import DeploymentsMgmtClient

    create_rg(arm_env, RG)
    template = {
        "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
        "contentVersion": "1.0.0.0",
        "resources": [
            {
                "type": "Microsoft.KeyVault/vaults",
                "apiVersion": "2024-11-01",
                "name": "kv-templ",
                "location": "eastus2",
                "properties": {
                    "tenantId": "[subscription().tenantId]",
                    "sku": {"family": "A", "name": "standard"},
                    "enableRbacAuthorization": True,
                },
            }
        ],
        "outputs": {
            "vaultUri": {
                "type": "string",
                "value": "[reference(resourceId('Microsoft.KeyVault/vaults', 'kv-templ'), "
                "'2024-11-01').vaultUri]",
            }
        },
    }
    client = DeploymentsMgmtClient(
        arm_env.credential(),
        arm_env.subscription_id,
        base_url=arm_env.url,
        connection_verify=arm_env.ca,
        polling_interval=0.05,
    )
    done = client.deployments.begin_create_or_update(
        RG, "kv", {"properties": {"mode": "Incremental", "template": template}}
    ).result()
    uri = done.properties.outputs["vaultUri"]["value"]
    assert uri == vaults.ensure("kv-templ")
    secrets = secret_client(arm_env, uri)
    secrets.set_secret("from-template", "ok")
    assert secrets.get_secret("from-template").value == "ok"


SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6"
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"  # control plane only: no secret values


def _deploy(arm_env: ArmEnv, name: str, resources: list[dict[str, Any]]) -> Any:
    from azure.mgmt.resource.deployments import DeploymentsMgmtClient

    template = {
        "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
        "contentVersion": "1.0.0.0",
        "resources": resources,
    }
    client = DeploymentsMgmtClient(
        arm_env.credential(),
        arm_env.subscription_id,
        base_url=arm_env.url,
        connection_verify=arm_env.ca,
        polling_interval=0.05,
    )
    done = client.deployments.begin_create_or_update(
        RG, name, {"properties": {"mode": "Incremental", "template": template}}
    ).result()
    assert done.properties.provisioning_state == "Succeeded", done.properties.error
    return done


def _vault_and_identity(vault: str, **properties: Any) -> list[dict[str, Any]]:
    return [
        {
            "type": "Microsoft.ManagedIdentity/userAssignedIdentities",
            "apiVersion": "2023-01-31",
            "name": "id-kv",
            "location": "eastus2",
        },
        {
            "type": "Microsoft.KeyVault/vaults",
            "apiVersion": "2024-11-01",
            "name": vault,
            "location": "eastus2",
            "properties": {
                "tenantId": "[subscription().tenantId]",
                "sku": {"family": "A", "name": "standard"},
                **properties,
            },
        },
    ]


def _grant(role: str, vault: str | None) -> dict[str, Any]:
    """A role for id-kv, on the vault (or, without one, on the resource group)."""
    identity = "[resourceId('Microsoft.ManagedIdentity/userAssignedIdentities', 'id-kv')]"
    out: dict[str, Any] = {
        "type": "Microsoft.Authorization/roleAssignments",
        "apiVersion": "2022-04-01",
        "name": f"[guid(resourceGroup().id, {identity[1:-1]}, '{role}', '{vault}')]",
        "properties": {
            "roleDefinitionId": "[subscriptionResourceId("
            f"'Microsoft.Authorization/roleDefinitions', '{role}')]",
            "principalId": f"[reference({identity[1:-1]}, '2023-01-31').principalId]",
            "principalType": "ServicePrincipal",
        },
    }
    if vault:
        out["scope"] = f"Microsoft.KeyVault/vaults/{vault}"
    return out


def _user_app(arm_env: ArmEnv, env_id: str, uri: str) -> m.ContainerApp:
    identity = (
        f"/subscriptions/{arm_env.subscription_id}/resourceGroups/{RG}"
        "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-kv"
    )
    return _app(
        env_id,
        f"{uri}secrets/openai-key",
        m.ManagedServiceIdentity(type="UserAssigned", user_assigned_identities={identity: {}}),
        identity,
    )


def test_an_rbac_vault_refuses_an_identity_without_a_secrets_role_until_one_is_assigned(
    arm_env: ArmEnv, vaults: VaultService
) -> None:
    client, env_id = _environment(arm_env)
    _deploy(
        arm_env,
        "kv-rbac",
        [*_vault_and_identity("kv-rbac", enableRbacAuthorization=True), _grant(READER, "kv-rbac")],
    )
    uri = vaults.ensure("kv-rbac")
    secret_client(arm_env, uri).set_secret("openai-key", "read-with-a-role")
    with pytest.raises(HttpResponseError) as caught:
        client.container_apps.begin_create_or_update(RG, "rbac", _user_app(arm_env, env_id, uri)).result()
    message = str(caught.value)
    assert "Unable to get value using Managed identity /subscriptions/" in message
    assert "unable to fetch secret 'openai-key' using Managed identity '/subscriptions/" in message
    assert _wait_status(client, "rbac", "rbac--v1").provisioning_state == "Failed"

    # Key Vault Secrets User at the resource group's scope covers the vault
    _deploy(
        arm_env,
        "kv-grant",
        [*_vault_and_identity("kv-rbac", enableRbacAuthorization=True), _grant(SECRETS_USER, None)],
    )
    client.container_apps_revisions.restart_revision(RG, "rbac", "rbac--v1")
    assert arm_env.runtime.revisions["rbac--v1"].containers[0].env["OPENAI_KEY"] == "read-with-a-role"


def test_an_access_policy_vault_reads_with_a_get_policy_for_the_principal(
    arm_env: ArmEnv, vaults: VaultService
) -> None:
    client, env_id = _environment(arm_env)
    principal = (
        "[reference(resourceId('Microsoft.ManagedIdentity/userAssignedIdentities', 'id-kv'), "
        "'2023-01-31').principalId]"
    )
    policy = {
        "tenantId": "[subscription().tenantId]",
        "objectId": principal,
        "permissions": {"secrets": ["list"]},
    }
    _deploy(arm_env, "kv-pol", _vault_and_identity("kv-pol", accessPolicies=[policy]))
    uri = vaults.ensure("kv-pol")
    secret_client(arm_env, uri).set_secret("openai-key", "read-with-a-policy")
    with pytest.raises(HttpResponseError, match="unable to fetch secret 'openai-key'"):
        client.container_apps.begin_create_or_update(RG, "pol", _user_app(arm_env, env_id, uri)).result()

    policy["permissions"] = {"secrets": ["Get", "List"]}
    _deploy(arm_env, "kv-pol", _vault_and_identity("kv-pol", accessPolicies=[policy]))
    client.container_apps_revisions.restart_revision(RG, "pol", "pol--v1")
    assert arm_env.runtime.revisions["pol--v1"].containers[0].env["OPENAI_KEY"] == "read-with-a-policy"
