"""The stand-in's template engine against the shipped templates/infra/main.json, with our own fake
apply_resource seam (the ARM server supplies the real one)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from genaiops_sandbox.templates import (
    DeploymentContext,
    ResourceApplyError,
    ResourceRequest,
    TemplateError,
    deploy,
    generic,
    validate,
    what_if,
)
from genaiops_sandbox.templates.hashing import unique_string
from tests.conftest import require_specs

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "templates" / "infra"
CTX = DeploymentContext(
    subscription_id="00000000-0000-0000-0000-000000000001",
    resource_group="rg-dev",
    resource_group_location="eastus2",
    deployment_name="genaiops-dev",
    tenant_id="11111111-1111-1111-1111-111111111111",
)
WORKSPACE = "Microsoft.OperationalInsights/workspaces"


class FakeArm:
    """Stores what the engine PUTs and answers like a resource provider (server-populated fields)."""

    def __init__(self, fail_type: str | None = None) -> None:
        self.store: dict[str, dict[str, Any]] = {}
        self.requests: list[ResourceRequest] = []
        self.fail_type = fail_type
        self.key_lookups: list[str] = []

    def apply(self, req: ResourceRequest) -> dict[str, Any]:
        self.requests.append(req)
        if req.type == self.fail_type:
            raise ResourceApplyError("SkuNotAvailable", f"The SKU is not available for '{req.name}'.", 409)
        body = generic.materialise(req.resource_id, req.type, req.name, req.body, tenant_id=CTX.tenant_id)
        if req.type == "Microsoft.App/managedEnvironments":
            body["properties"]["defaultDomain"] = "happy-sea.eastus2.sandbox.genaiops.test"
            # write-only secret: never returned on GET
            body["properties"]["appLogsConfiguration"]["logAnalyticsConfiguration"].pop("sharedKey")
        if req.type == "Microsoft.ContainerRegistry/registries":
            body["properties"]["loginServer"] = f"{req.name}.azurecr.io"
        self.store[req.resource_id] = body
        return body

    def list_keys(self, rid: str, api_version: str) -> dict[str, Any]:
        self.key_lookups.append(rid)
        return generic.list_keys(rid, WORKSPACE)


def _params(env: str) -> dict[str, Any]:
    return json.loads((INFRA / f"main.parameters.{env}.json").read_text())


def _template() -> str:
    return (INFRA / "main.json").read_text()


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_main_template_deploys_and_outputs_resolve(env: str) -> None:
    arm = FakeArm()
    result = deploy(_template(), _params(env), CTX, arm.apply, list_keys=arm.list_keys)
    assert result.provisioning_state == "Succeeded", result.error
    out = {k: v["value"] for k, v in result.outputs.items()}
    suffix = unique_string(CTX.resource_group_id)
    assert out["registryName"] == f"genaiopscr{suffix}"
    assert out["registryLoginServer"] == f"genaiopscr{suffix}.azurecr.io"
    assert out["defaultDomain"] == "happy-sea.eastus2.sandbox.genaiops.test"
    assert out["containerAppsEnvironmentId"].endswith(f"/managedEnvironments/genaiops-cae-{suffix}")
    ident = arm.store[out["identityId"]]["properties"]
    assert (out["identityClientId"], out["identityPrincipalId"]) == (ident["clientId"], ident["principalId"])
    assert out["foundryProjectEndpoint"].endswith("/api/projects/genaiops-project")
    assert out["appInsightsConnectionStringSecretRef"].endswith("#properties.ConnectionString")
    assert "InstrumentationKey" not in json.dumps(result.outputs)
    assert len(out["storageAccountName"]) <= 24 and out["storageAccountName"].isalnum()
    # Key Vault names: 3-24 letters, digits and hyphens, starting with a letter, no "--"
    assert out["keyVaultName"] == f"kv-genaiops-{suffix}"[:24] and "--" not in out["keyVaultName"]
    assert out["keyVaultUri"] == f"https://{out['keyVaultName']}.vault.sandbox.genaiops.test/"
    # the environment really got the workspace's customerId and the (stand-in) shared key
    env_req = next(r for r in arm.requests if r.type == "Microsoft.App/managedEnvironments")
    la = env_req.body["properties"]["appLogsConfiguration"]["logAnalyticsConfiguration"]
    assert la["customerId"] == arm.store[out["logAnalyticsWorkspaceId"]]["properties"]["customerId"]
    assert la["sharedKey"] == generic.list_keys(out["logAnalyticsWorkspaceId"], WORKSPACE)["primarySharedKey"]
    # no secret anywhere in what the deployment reports back
    assert la["sharedKey"] not in json.dumps([result.outputs, result.operations, result.parameters])
    assert {o["properties"]["provisioningState"] for o in result.operations} == {"Succeeded"}


def test_order_respects_explicit_and_implicit_dependencies() -> None:
    arm = FakeArm()
    result = deploy(_template(), _params("dev"), CTX, arm.apply, list_keys=arm.list_keys)
    position = {r.resource_id: i for i, r in enumerate(arm.requests)}
    assert len(position) == 14
    for req in arm.requests:
        for dep in req.depends_on:
            assert position[dep] < position[req.resource_id], (dep, req.resource_id)
    by_type = {r.type: r for r in arm.requests}
    env = by_type["Microsoft.App/managedEnvironments"]
    # implicit: reference()/listKeys() of the workspace, no dependsOn written in the template
    assert any(d.endswith(f"/workspaces/{env.name.replace('cae', 'log')}") for d in env.depends_on)
    project = by_type["Microsoft.CognitiveServices/accounts/projects"]
    assert project.name.count("/") == 1 and project.resource_id.endswith(
        f"/accounts/{project.name.split('/')[0]}/projects/{project.name.split('/')[1]}"
    )
    assigns = [r for r in arm.requests if r.type == "Microsoft.Authorization/roleAssignments"]
    assert len(assigns) == 4 and all(
        r.scope and r.resource_id.startswith(r.scope + "/providers/Microsoft.Authorization/") for r in assigns
    )
    roles = {r.body["properties"]["roleDefinitionId"].rsplit("/", 1)[-1] for r in assigns}
    assert roles == {
        "7f951dda-4ed3-4680-a7ca-43fe172d538d",  # AcrPull
        "53ca6127-db72-4b80-b1b0-d745d6d5456d",  # Azure AI User
        "4633458b-17de-408a-b874-0445c86b69e6",  # Key Vault Secrets User
    }
    # the environment's identity reads the vault's secrets: Key Vault Secrets User on the vault itself
    vault = by_type["Microsoft.KeyVault/vaults"]
    assert vault.body["properties"]["enableRbacAuthorization"] is True
    identity = by_type["Microsoft.ManagedIdentity/userAssignedIdentities"]
    reads = [
        r
        for r in assigns
        if r.body["properties"]["roleDefinitionId"].endswith("4633458b-17de-408a-b874-0445c86b69e6")
    ]
    assert [r.scope for r in reads] == [vault.resource_id]
    assert (
        reads[0].body["properties"]["principalId"]
        == arm.store[identity.resource_id]["properties"]["principalId"]
    )
    assert position[vault.resource_id] < position[reads[0].resource_id]
    project_principal = arm.store[project.resource_id]["identity"]["principalId"]
    assert project_principal in {r.body["properties"]["principalId"] for r in assigns}
    assert result.dependencies and all(d["dependsOn"] for d in result.dependencies)


def test_registry_admin_user_disabled_and_names_stable() -> None:
    a, b = FakeArm(), FakeArm()
    deploy(_template(), _params("dev"), CTX, a.apply, list_keys=a.list_keys)
    deploy(_template(), _params("dev"), CTX, b.apply, list_keys=b.list_keys)
    assert [r.resource_id for r in a.requests] == [r.resource_id for r in b.requests]
    reg = next(r for r in a.requests if r.type == "Microsoft.ContainerRegistry/registries")
    assert reg.body["properties"]["adminUserEnabled"] is False


def test_failed_resource_stops_dependents_and_reports_arm_error() -> None:
    arm = FakeArm(fail_type="Microsoft.CognitiveServices/accounts")
    result = deploy(_template(), _params("dev"), CTX, arm.apply, list_keys=arm.list_keys)
    assert result.provisioning_state == "Failed"
    assert result.error["code"] == "DeploymentFailed"
    detail = result.error["details"][0]
    assert detail["code"] == "SkuNotAvailable" and detail["target"].endswith(
        "/accounts/genaiops-ai-" + unique_string(CTX.resource_group_id)
    )
    attempted = {r.type for r in arm.requests}
    assert "Microsoft.CognitiveServices/accounts/projects" not in attempted  # depends on the failed account
    assert "Microsoft.Storage/storageAccounts" in attempted  # independent: still deployed
    failed = [o for o in result.operations if o["properties"]["provisioningState"] == "Failed"]
    assert failed[0]["properties"]["statusCode"] == "Conflict"
    assert result.outputs == {}


def test_missing_parameter_is_invalid_template_with_line() -> None:
    params = _params("dev")
    del params["parameters"]["environment"]
    with pytest.raises(TemplateError) as err:
        validate(_template(), params, CTX)
    e = err.value
    assert e.code == "InvalidTemplate"
    assert "The value for the template parameter 'environment' at line '" in e.message
    text = _template().splitlines()
    assert '"environment"' in text[e.line - 1]


@pytest.mark.parametrize(
    "value,words", [("qa", "not part of the allowed value"), (3, "Expected 'String, Uri'")]
)
def test_bad_parameter_values(value: Any, words: str) -> None:
    params = _params("dev")
    params["parameters"]["environment"]["value"] = value
    with pytest.raises(TemplateError, match=words):
        validate(_template(), params, CTX)


def test_unknown_parameter_rejected() -> None:
    params = _params("dev")
    params["parameters"]["colour"] = {"value": "blue"}
    with pytest.raises(TemplateError, match="'colour' in the parameters file are not valid"):
        validate(_template(), params, CTX)


def test_syntax_error_reports_line() -> None:
    broken = _template().replace('"resources": [', '"resources": [,', 1)
    with pytest.raises(TemplateError) as err:
        validate(broken, _params("dev"), CTX)
    assert err.value.code == "InvalidTemplate" and err.value.message.startswith(
        "Deployment template parse failed"
    )
    assert '"resources": [,' in broken.splitlines()[err.value.line - 1]
    assert err.value.to_arm()["additionalInfo"][0]["info"]["lineNumber"] == err.value.line


def test_what_if_create_then_nochange_then_modify_on_sku_change() -> None:
    arm = FakeArm()
    first = what_if(_template(), _params("dev"), CTX, {})
    assert {c["changeType"] for c in first["properties"]["changes"]} == {"Create"}
    deploy(_template(), _params("dev"), CTX, arm.apply, list_keys=arm.list_keys)
    again = what_if(_template(), _params("dev"), CTX, arm.store)
    assert {c["changeType"] for c in again["properties"]["changes"]} == {"NoChange"}
    assert arm.key_lookups and len(arm.key_lookups) == 1  # what-if never asks for keys
    params = _params("dev")
    params["parameters"]["registrySku"] = {"value": "Premium"}
    changed = what_if(_template(), params, CTX, arm.store)
    modified = [c for c in changed["properties"]["changes"] if c["changeType"] == "Modify"]
    assert len(modified) == 1 and modified[0]["resourceId"].endswith(
        "/registries/genaiopscr" + unique_string(CTX.resource_group_id)
    )
    assert modified[0]["delta"] == [
        {"path": "sku.name", "propertyChangeType": "Modify", "before": "Basic", "after": "Premium"}
    ]


def test_what_if_ignores_or_deletes_resources_outside_the_template() -> None:
    arm = FakeArm()
    deploy(_template(), _params("dev"), CTX, arm.apply, list_keys=arm.list_keys)
    app_id = f"{CTX.resource_group_id}/providers/Microsoft.App/containerApps/agent"
    current = dict(arm.store) | {
        app_id: {
            "id": app_id,
            "type": "Microsoft.App/containerApps",
            "name": "agent",
            "location": "eastus2",
            "properties": {},
        }
    }
    incremental = what_if(_template(), _params("dev"), CTX, current)
    assert [c["changeType"] for c in incremental["properties"]["changes"] if c["resourceId"] == app_id] == [
        "Ignore"
    ]
    complete = what_if(_template(), _params("dev"), CTX, current, mode="Complete")
    assert [c["changeType"] for c in complete["properties"]["changes"] if c["resourceId"] == app_id] == [
        "Delete"
    ]


def test_secret_in_outputs_is_refused() -> None:
    template = json.loads(_template())
    template["outputs"]["leak"] = {
        "type": "string",
        "value": "[listKeys(variables('logAnalyticsId'), '2023-09-01').primarySharedKey]",
    }
    arm = FakeArm()
    result = deploy(template, _params("dev"), CTX, arm.apply, list_keys=arm.list_keys)
    assert result.provisioning_state == "Failed"
    assert "leak" in json.dumps(result.error) and "secret" in json.dumps(result.error)
    assert generic.list_keys(result.error["target"], WORKSPACE)["primarySharedKey"] not in json.dumps(
        result.error
    )


def test_operations_and_what_if_match_the_official_schemas() -> None:
    from genaiops_sandbox.specs import shared_index, specs_root

    require_specs()
    spec = (
        specs_root() / "specification/resources/resource-manager/Microsoft.Resources/deployments/stable/"
        "2026-06-01/deployments.json"
    )
    index = shared_index()
    arm = FakeArm(fail_type="Microsoft.Storage/storageAccounts")
    result = deploy(_template(), _params("dev"), CTX, arm.apply, list_keys=arm.list_keys)
    listing = {"value": result.operations}
    assert (
        index.validate({"$ref": "#/definitions/DeploymentOperationsListResult"}, spec, listing, request=False)
        == []
    )
    props = {
        "provisioningState": result.provisioning_state,
        "outputs": result.outputs,
        "error": result.error,
        "parameters": result.parameters,
        "outputResources": result.output_resources,
        "dependencies": result.dependencies,
        "timestamp": result.timestamp,
        "duration": result.duration,
        "mode": "Incremental",
    }
    assert (
        index.validate({"$ref": "#/definitions/DeploymentPropertiesExtended"}, spec, props, request=False)
        == []
    )
    changes = what_if(_template(), _params("dev"), CTX, arm.store)
    assert index.validate({"$ref": "#/definitions/WhatIfOperationResult"}, spec, changes, request=False) == []
