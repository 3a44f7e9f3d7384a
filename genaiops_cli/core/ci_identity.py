"""The CI identity of an environment: sign-in without secrets, and only the roles a pipeline needs.

One user-assigned identity per environment for CI (`<app identity>-ci`), separate from the identity
the app runs as: the app can pull images, only CI can push and deploy. It trusts exactly one
subject through a federated identity credential (GitHub: `repo:OWNER/NAME:environment:ENV`, so only
jobs bound to that GitHub environment, with its protection rules, get a token). Its roles:

  AcrPush on the environment's registry          push images, the ledger and the lock (OCI artifacts)
  Reader on that registry                          resolve its login server through ARM
  Container Apps Contributor on the resource group create revisions, move labels and traffic
  Managed Identity Operator on the app identity    let the app run as its pull identity
  AcrPull on the promote_from registry             copy the release's blobs from the source

Delivered as ARM templates (deployed by `genaiops pipeline credentials`, or emitted for your own
IaC): the source registry's grant lives in the source's resource group, so it is its own template."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from genaiops_cli.errors import UsageError

GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
AUDIENCE = "api://AzureADTokenExchange"
IDENTITY_API = "2023-01-31"
UAMI = "Microsoft.ManagedIdentity/userAssignedIdentities"
ACR = "Microsoft.ContainerRegistry/registries"
ROLE_DEFINITIONS = "Microsoft.Authorization/roleDefinitions"
ROLE_ASSIGNMENT_API = "2022-04-01"

# Built-in role definition ids (the same in every tenant).
ROLES = {
    "AcrPush": "8311e382-0749-4cb8-b61a-304f252e45ec",
    "AcrPull": "7f951dda-4ed3-4680-a7ca-43fe172d538d",
    "Reader": "acdd72a7-3385-48ef-bd42-f606fba81ae7",
    "Container Apps Contributor": "358470bc-b998-42bd-ab17-a7e34c199c0f",
    "Managed Identity Operator": "f1a07417-d97a-45cb-824c-7a7467783830",
}
_REPO = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]{1,100}$")


@dataclass(frozen=True)
class Grant:
    role: str
    scope: str  # human-readable: "registry crdev", "resource group rg-dev", …
    why: str

    @property
    def role_id(self) -> str:
        return ROLES[self.role]


@dataclass(frozen=True)
class Deployment:
    """One ARM deployment of the plan: where it goes and what it carries."""

    environment: str  # whose subscription and endpoint it is deployed through
    resource_group: str
    name: str
    template: dict[str, Any]
    parameters: dict[str, dict[str, Any]]


@dataclass
class CredentialPlan:
    environment: str
    resource_group: str
    ci_identity: str
    issuer: str
    subject: str
    audience: str = AUDIENCE
    grants: list[Grant] = field(default_factory=list)
    deployments: list[Deployment] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {
            "environment": self.environment,
            "resource_group": self.resource_group,
            "ci_identity": self.ci_identity,
            "federated_credential": {
                "issuer": self.issuer,
                "subject": self.subject,
                "audiences": [self.audience],
            },
            "roles": [
                {"role": g.role, "role_id": g.role_id, "scope": g.scope, "why": g.why} for g in self.grants
            ],
            "deployments": [
                {"environment": d.environment, "resource_group": d.resource_group, "name": d.name}
                for d in self.deployments
            ],
        }


def resource_name(value: str | None) -> str | None:
    """A registry or identity as the manifest may give it (name, login server, resource id) → its name."""
    if not value:
        return None
    if "/" in value:
        return value.rstrip("/").rsplit("/", 1)[-1]
    return value.split(".", 1)[0]


def github_subject(repo: str, environment: str) -> str:
    return f"repo:{repo}:environment:{environment}"


def plan_credentials(
    manifest: Any,
    env_name: str,
    repo: str | None,
    issuer: str | None = None,
    subject: str | None = None,
    outputs: dict[str, dict[str, Any]] | None = None,
    subscription_of: Callable[[str], str] | None = None,
) -> CredentialPlan:
    """`outputs`: each environment's provisioned outputs, for names the manifest leaves out;
    `subscription_of(env)`: the subscription the environment's target really uses (the stand-in's,
    say), else the manifest's."""
    if subject is None:
        if not repo or not _REPO.match(repo):
            raise UsageError(
                f"--repo {repo!r} is not OWNER/NAME" if repo else "--repo OWNER/NAME is required",
                hint="the GitHub repository whose workflows sign in, e.g. contoso/support-agent "
                "(or pass --issuer and --subject for another CI system)",
            )
        subject = github_subject(repo, env_name)
    config = manifest.environment(env_name).config
    registry = _name(config.registry, outputs, env_name, "registryName", "registry")
    app_identity = _name(config.identity, outputs, env_name, "identityName", "identity")
    ci_identity = f"{app_identity}-ci"[:128]
    plan = CredentialPlan(env_name, config.resource_group, ci_identity, issuer or GITHUB_ISSUER, subject)
    plan.grants = [
        Grant("AcrPush", f"registry {registry}", "push images, the release ledger and the environment lock"),
        Grant("Reader", f"registry {registry}", "resolve the registry's login server through ARM"),
        Grant(
            "Container Apps Contributor",
            f"resource group {config.resource_group}",
            "create revisions, move labels and traffic",
        ),
        Grant(
            "Managed Identity Operator", f"identity {app_identity}", "deploy apps that run as this identity"
        ),
    ]
    plan.deployments.append(
        Deployment(
            env_name,
            config.resource_group,
            f"genaiops-{env_name}-ci",
            _identity_template(),
            {
                "ciIdentityName": {"value": ci_identity},
                "registryName": {"value": registry},
                "identityName": {"value": app_identity},
                "issuer": {"value": plan.issuer},
                "subject": {"value": plan.subject},
                "location": {"value": config.location},
            },
        )
    )
    source = manifest.environments[env_name].promote_from
    if source:
        src_config = manifest.environment(source).config
        subscription = subscription_of(env_name) if subscription_of else config.subscription
        src_registry = _name(src_config.registry, outputs, source, "registryName", "registry")
        plan.grants.append(
            Grant("AcrPull", f"registry {src_registry} ({source})", f"copy releases promoted from {source}")
        )
        plan.deployments.append(
            Deployment(
                source,
                src_config.resource_group,
                f"genaiops-{env_name}-ci-from-{source}",
                _source_pull_template(),
                {
                    "registryName": {"value": src_registry},
                    "ciIdentityId": {
                        "value": f"/subscriptions/{subscription}/resourceGroups/"
                        f"{config.resource_group}/providers/{UAMI}/{ci_identity}"
                    },
                },
            )
        )
    return plan


def _name(value: str | None, outputs: dict | None, env_name: str, output: str, field_name: str) -> str:
    name = resource_name(value) or resource_name(((outputs or {}).get(env_name) or {}).get(output))
    if not name:
        raise UsageError(
            f"environment {env_name!r} names no {field_name}",
            hint=f"set environments.{env_name}.{field_name} in the manifest,"
            f" or run `genaiops provision -e {env_name}`",
        )
    return name


def _assignment(scope: str, scope_id: str, role: str, principal: str) -> dict[str, Any]:
    return {
        "type": "Microsoft.Authorization/roleAssignments",
        "apiVersion": ROLE_ASSIGNMENT_API,
        "scope": scope,
        "name": f"[guid({scope_id}, {principal}, '{ROLES[role]}')]",
        "properties": {
            "roleDefinitionId": f"[subscriptionResourceId('{ROLE_DEFINITIONS}', '{ROLES[role]}')]",
            "principalId": f"[reference({principal}, '{IDENTITY_API}').principalId]",
            "principalType": "ServicePrincipal",
            "description": f"genaiops CI: {role}",
        },
    }


def _identity_template() -> dict[str, Any]:
    ci_id = "variables('ciIdentityId')"
    registry = "format('Microsoft.ContainerRegistry/registries/{0}', parameters('registryName'))"
    identity = "format('Microsoft.ManagedIdentity/userAssignedIdentities/{0}', parameters('identityName'))"
    assignments = [
        _assignment(f"[{registry}]", "variables('registryId')", "AcrPush", ci_id),
        _assignment(f"[{registry}]", "variables('registryId')", "Reader", ci_id),
        _assignment(f"[{identity}]", "variables('appIdentityId')", "Managed Identity Operator", ci_id),
        {**_assignment("", "resourceGroup().id", "Container Apps Contributor", ci_id)},
    ]
    del assignments[-1]["scope"]  # the resource group itself
    for a in assignments:
        a["dependsOn"] = ["[variables('ciIdentityId')]"]
    return {
        "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
        "contentVersion": "1.0.0.0",
        "metadata": {"description": "genaiops: the CI identity of one environment (OIDC, least roles)."},
        "parameters": {
            "ciIdentityName": {"type": "string"},
            "registryName": {"type": "string"},
            "identityName": {"type": "string", "metadata": {"description": "The identity the app runs as."}},
            "issuer": {"type": "string", "defaultValue": GITHUB_ISSUER},
            "subject": {"type": "string"},
            "location": {"type": "string", "defaultValue": "[resourceGroup().location]"},
        },
        "variables": {
            "ciIdentityId": f"[resourceId('{UAMI}', parameters('ciIdentityName'))]",
            "registryId": f"[resourceId('{ACR}', parameters('registryName'))]",
            "appIdentityId": f"[resourceId('{UAMI}', parameters('identityName'))]",
        },
        "resources": [
            {
                "type": "Microsoft.ManagedIdentity/userAssignedIdentities",
                "apiVersion": IDENTITY_API,
                "name": "[parameters('ciIdentityName')]",
                "location": "[parameters('location')]",
                "tags": {"managed-by": "genaiops", "purpose": "ci"},
            },
            {
                "type": "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials",
                "apiVersion": IDENTITY_API,
                "name": "[format('{0}/ci', parameters('ciIdentityName'))]",
                "properties": {
                    "issuer": "[parameters('issuer')]",
                    "subject": "[parameters('subject')]",
                    "audiences": [AUDIENCE],
                },
                "dependsOn": ["[variables('ciIdentityId')]"],
            },
            *assignments,
        ],
        "outputs": {
            "clientId": {"type": "string", "value": f"[reference({ci_id}, '{IDENTITY_API}').clientId]"},
            "principalId": {"type": "string", "value": f"[reference({ci_id}, '{IDENTITY_API}').principalId]"},
            "tenantId": {"type": "string", "value": f"[reference({ci_id}, '{IDENTITY_API}').tenantId]"},
        },
    }


def _source_pull_template() -> dict[str, Any]:
    """AcrPull for the CI identity on the registry it promotes from (in that registry's resource group)."""
    principal = "parameters('ciIdentityId')"
    registry = "format('Microsoft.ContainerRegistry/registries/{0}', parameters('registryName'))"
    return {
        "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
        "contentVersion": "1.0.0.0",
        "metadata": {"description": "genaiops: AcrPull for a CI identity on the registry it promotes from."},
        "parameters": {"registryName": {"type": "string"}, "ciIdentityId": {"type": "string"}},
        "variables": {"registryId": f"[resourceId('{ACR}', parameters('registryName'))]"},
        "resources": [_assignment(f"[{registry}]", "variables('registryId')", "AcrPull", principal)],
    }
