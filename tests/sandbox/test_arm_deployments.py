"""Microsoft.Resources deployments on the stand-in through the real azure-mgmt-resource-deployments client:
the shipped template deploys (emulated types through their own handlers, the rest as plain resources),
operations and outputs read back, what-if Create -> NoChange -> Modify, validate, and failures shaped
like ARM's. Every request and response is checked against the 2026-06-01 spec (arm_env fixture)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import conftest_arm
import pytest
from azure.core.exceptions import HttpResponseError
from conftest_arm import ArmEnv, create_rg

arm_env = conftest_arm.arm_env  # the shared fixture, re-exported for pytest

RG = "rg-dev"
INFRA = Path(__file__).resolve().parents[2] / "templates" / "infra"


def _client(env: ArmEnv) -> Any:
    from azure.mgmt.resource.deployments import DeploymentsMgmtClient

    return DeploymentsMgmtClient(
        env.credential(),
        env.subscription_id,
        base_url=env.url,
        connection_verify=env.ca,
        polling_interval=0.05,
    )


def _template() -> dict[str, Any]:
    return json.loads((INFRA / "main.json").read_text())


def _parameters(env_name: str = "dev", **overrides: Any) -> dict[str, Any]:
    params = json.loads((INFRA / f"main.parameters.{env_name}.json").read_text())["parameters"]
    params.update({k: {"value": v} for k, v in overrides.items()})
    return params


def _deploy(
    client: Any, template: dict[str, Any], parameters: dict[str, Any], name: str = "genaiops-dev"
) -> Any:
    return client.deployments.begin_create_or_update(
        RG, name, {"properties": {"mode": "Incremental", "template": template, "parameters": parameters}}
    ).result()


def _what_if(client: Any, parameters: dict[str, Any]) -> dict[str, str]:
    result = client.deployments.begin_what_if(
        RG,
        "genaiops-dev",
        {"properties": {"mode": "Incremental", "template": _template(), "parameters": parameters}},
    ).result()
    return {c.resource_id.rsplit("/", 1)[-1]: c for c in result.changes}


def test_shipped_template_deploys_with_operations_outputs_and_real_resources(arm_env: ArmEnv) -> None:
    create_rg(arm_env, RG)
    client = _client(arm_env)
    first = _what_if(client, _parameters())
    assert first and {c.change_type for c in first.values()} == {"Create"}

    done = _deploy(client, _template(), _parameters())
    assert done.properties.provisioning_state == "Succeeded"
    outputs = {k: v["value"] for k, v in done.properties.outputs.items()}
    registry = outputs["registryName"]
    # the registry is a real fleet member and its login server is the fleet's, not a made-up one
    assert arm_env.fleet.get(registry.lower()).login_server == outputs["registryLoginServer"]
    assert outputs["containerAppsEnvironmentName"].startswith("genaiops-cae-")
    assert outputs["defaultDomain"].endswith(".sandbox.genaiops.test")

    ops = list(client.deployment_operations.list(RG, "genaiops-dev"))
    assert len(ops) == 14 and {o.properties.provisioning_state for o in ops} == {"Succeeded"}
    one = client.deployment_operations.get(RG, "genaiops-dev", ops[0].operation_id)
    assert one.properties.target_resource.id == ops[0].properties.target_resource.id

    # emulated types are visible through their own SDKs; plain types through the generic GET
    apps = arm_env.apps_client()
    env = apps.managed_environments.get(RG, outputs["containerAppsEnvironmentName"])
    assert env.default_domain == outputs["defaultDomain"]
    assert env.app_logs_configuration.log_analytics_configuration.customer_id
    assert "sharedKey" not in json.dumps(env.as_dict()), "a write-only secret came back on GET"
    assert arm_env.acr_client().registries.get(RG, registry).admin_user_enabled is False
    identity = _generic_get(arm_env, outputs["identityId"], "2023-01-31")
    assert identity["properties"]["clientId"] == outputs["identityClientId"]
    rg_id = outputs["identityId"].split("/providers/")[0]
    vault_id = f"{rg_id}/providers/Microsoft.KeyVault/vaults/{outputs['keyVaultName']}"
    vault = _generic_get(arm_env, vault_id, "2024-11-01")
    assert vault["properties"]["vaultUri"] == outputs["keyVaultUri"]
    assert vault["properties"]["enableRbacAuthorization"] is True

    listed = [d.name for d in client.deployments.list_by_resource_group(RG)]
    assert listed == ["genaiops-dev"]
    assert client.deployments.check_existence(RG, "genaiops-dev") is True

    again = _what_if(client, _parameters())
    kinds = {name: c.change_type for name, c in again.items()}
    assert set(kinds.values()) == {"NoChange"}, kinds

    changed = _what_if(client, _parameters(registrySku="Premium"))
    modify = changed[registry]
    assert modify.change_type == "Modify"
    from genaiops_cli.core.whatif import flatten_delta

    rows = flatten_delta([d.as_dict() for d in modify.delta])
    assert {"path": "sku.name", "change": "Modify", "before": "Basic", "after": "Premium"} in [
        {**r, "change": r["change"]} for r in rows
    ], rows
    others = {c.change_type for n, c in changed.items() if n != registry}
    assert others == {"NoChange"}

    # re-deploy with the new SKU: the registry is updated in place
    redo = _deploy(client, _template(), _parameters(registrySku="Premium"))
    assert redo.properties.provisioning_state == "Succeeded"
    assert arm_env.acr_client().registries.get(RG, registry).sku.name == "Premium"


def _generic_get(env: ArmEnv, rid: str, api_version: str) -> dict[str, Any]:
    import ssl
    import urllib.request

    token = env.credential().get_token("https://management.azure.com/.default").token
    req = urllib.request.Request(
        f"{env.url}{rid}?api-version={api_version}", headers={"Authorization": f"Bearer {token}"}
    )
    with urllib.request.urlopen(req, context=ssl.create_default_context(cafile=env.ca)) as resp:
        return json.loads(resp.read())


def test_invalid_template_and_missing_parameter_are_400_with_arm_codes(arm_env: ArmEnv) -> None:
    create_rg(arm_env, RG)
    client = _client(arm_env)
    with pytest.raises(HttpResponseError) as missing:
        _deploy(client, _template(), {})
    assert missing.value.status_code == 400
    assert missing.value.error.code in ("InvalidTemplate", "InvalidTemplateDeployment")
    assert "namePrefix" in missing.value.error.message

    bad = {
        "$schema": "x",
        "contentVersion": "1.0.0.0",
        "resources": [],
        "outputs": {"o": {"type": "string", "value": "[nosuchfunction('x')]"}},
    }
    with pytest.raises(HttpResponseError) as unknown:
        _deploy(client, bad, {})
    assert unknown.value.error.code == "InvalidTemplate"
    assert "nosuchfunction" in unknown.value.error.message

    result = client.deployments.begin_validate(
        RG,
        "check",
        {"properties": {"mode": "Incremental", "template": _template(), "parameters": _parameters()}},
    ).result()
    assert result.error is None and len(result.properties.validated_resources) == 14


def test_a_failed_resource_fails_the_deployment_names_it_and_skips_dependants(arm_env: ArmEnv) -> None:
    create_rg(arm_env, RG)
    client = _client(arm_env)
    template = {
        "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
        "contentVersion": "1.0.0.0",
        "resources": [
            {
                "type": "Microsoft.ContainerRegistry/registries",
                "apiVersion": "2025-11-01",
                "name": "c!",
                "location": "eastus2",
                "sku": {"name": "Basic"},
                "properties": {},
            },
            {
                "type": "Microsoft.ManagedIdentity/userAssignedIdentities",
                "apiVersion": "2023-01-31",
                "name": "id-ok",
                "location": "eastus2",
            },
            {
                "type": "Microsoft.Authorization/roleAssignments",
                "apiVersion": "2022-04-01",
                "name": "[guid('x')]",
                "scope": "Microsoft.ContainerRegistry/registries/c!",
                "dependsOn": ["[resourceId('Microsoft.ContainerRegistry/registries', 'c!')]"],
                "properties": {"roleDefinitionId": "r", "principalId": "p"},
            },
        ],
    }
    with pytest.raises(HttpResponseError) as failed:
        _deploy(client, template, {}, name="broken")
    assert failed.value.error.code == "DeploymentFailed"
    deployment = client.deployments.get(RG, "broken")
    assert deployment.properties.provisioning_state == "Failed"
    ops = {
        o.properties.target_resource.resource_name: o for o in client.deployment_operations.list(RG, "broken")
    }
    assert set(ops) == {"c!", "id-ok"}, (
        "the role assignment depending on the failed registry is never attempted"
    )
    error = ops["c!"].properties.status_message.error
    assert error.code == "InvalidRegistryName" and error.target.endswith("/registries/c!")
    assert ops["id-ok"].properties.provisioning_state == "Succeeded"


def _assignment_template(name: str) -> dict[str, Any]:
    identity = "resourceId('Microsoft.ManagedIdentity/userAssignedIdentities', 'id-ra')"
    return {
        "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
        "contentVersion": "1.0.0.0",
        "resources": [
            {
                "type": "Microsoft.ManagedIdentity/userAssignedIdentities",
                "apiVersion": "2023-01-31",
                "name": "id-ra",
                "location": "eastus2",
            },
            {
                "type": "Microsoft.Authorization/roleAssignments",
                "apiVersion": "2022-04-01",
                "name": name,
                "dependsOn": [f"[{identity}]"],
                "properties": {
                    "roleDefinitionId": "[subscriptionResourceId('Microsoft.Authorization/roleDefinitions', "
                    "'acdd72a7-3385-48ef-bd42-f606fba81ae7')]",
                    "principalId": f"[reference({identity}, '2023-01-31').principalId]",
                    "principalType": "ServicePrincipal",
                },
            },
        ],
    }


def _failed_operation(client: Any, deployment: str, resource_type: str) -> Any:
    ops = {
        o.properties.target_resource.resource_type: o
        for o in client.deployment_operations.list(RG, deployment)
        if o.properties.target_resource
    }
    return ops[resource_type].properties.status_message.error


def test_role_assignments_are_refused_as_azure_refuses_them(arm_env: ArmEnv) -> None:
    create_rg(arm_env, RG)
    client = _client(arm_env)
    first = "[guid(resourceGroup().id, 'reader', 'id-ra')]"
    assert _deploy(client, _assignment_template(first), {}, name="ra").properties.provisioning_state == (
        "Succeeded"
    )
    # the same name again is an update, not a conflict (templates are re-run)
    assert _deploy(client, _assignment_template(first), {}, name="ra").properties.provisioning_state == (
        "Succeeded"
    )

    # the same role, principal and scope under another name: what a changed guid() seed does on Azure
    with pytest.raises(HttpResponseError):
        _deploy(client, _assignment_template("[guid('another seed')]"), {}, name="ra-again")
    error = _failed_operation(client, "ra-again", "Microsoft.Authorization/roleAssignments")
    assert error.code == "RoleAssignmentExists" and error.message == "The role assignment already exists."

    with pytest.raises(HttpResponseError):
        _deploy(client, _assignment_template("reader-for-id-ra"), {}, name="ra-name")
    error = _failed_operation(client, "ra-name", "Microsoft.Authorization/roleAssignments")
    assert error.code == "InvalidRoleAssignmentId" and "must be a GUID" in error.message
