"""`genaiops pipeline credentials` against the stand-in: what-if, create, what-if again (no change);
the federated credential and the role assignments read back through ARM as Azure would serve them."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from genaiops_cli.core.ci_identity import AUDIENCE, GITHUB_ISSUER

from .conftest import REPO, Project, Sandbox

pytestmark = [pytest.mark.e2e]


def test_ci_identity_what_if_create_and_read_back(sandbox: Sandbox, tmp_path: Path) -> None:
    from azure.mgmt.resource.resources import ResourceManagementClient

    from genaiops_cli.core.cloud import target_for
    from genaiops_cli.providers.azure import clients
    from tests.e2e.infra import ensure_environment

    root = tmp_path / "project"
    shutil.copytree(REPO / "templates" / "agent", root)
    text = (root / "genaiops.yaml").read_text()
    target = target_for("sandbox", None)
    for env in ("dev", "staging"):
        text = text.replace(f"rg-{env}\n", f"rg-cred-{env}\n").replace(
            f"registry: cr{env}\n", f"registry: crcred{env}\n"
        )
    (root / "genaiops.yaml").write_text(text)
    project = Project(root, sandbox)
    # dev only needs its registry (the source of promotions); staging is provisioned as users do,
    # so the identity its apps run as exists: role assignments on a missing scope fail, as in Azure.
    ensure_environment(target, "rg-cred-dev", "eastus2", "crcreddev", "cae-dev")
    provisioned = project.run("-y", "provision", "-e", "staging")
    assert provisioned.code == 0, provisioned.stderr
    args = ("-o", "json", "pipeline", "credentials", "-e", "staging", "--repo", "contoso/support-agent")

    preview = project.run(*args, "--what-if")
    assert preview.code == 0, preview.stderr
    created = {
        c["resource"].split("/")[1] if "roleAssignments" not in c["resource"] else "roleAssignment"
        for run in preview.json()["result"]["what_if"]
        for c in run["changes"]
        if c["change"] == "Create"
    }
    assert created >= {"userAssignedIdentities", "roleAssignment"}
    creates = sum(c["change"] == "Create" for r in preview.json()["result"]["what_if"] for c in r["changes"])
    assert creates == 7, "identity, federated credential, five role assignments"

    done = project.run("-y", *args)
    assert done.code == 0, done.stderr
    result = done.json()["result"]
    client_id = result["variables"]["AZURE_CLIENT_ID"]
    assert client_id and result["variables"]["AZURE_SUBSCRIPTION_ID"] == target.subscription_id

    again = project.run(*args, "--what-if").json()["result"]["what_if"]
    assert {c["change"] for r in again for c in r["changes"]} <= {"NoChange", "Ignore"}, "idempotent"

    rm = clients.arm_client(ResourceManagementClient, target)
    base = f"/subscriptions/{target.subscription_id}/resourceGroups/rg-cred-staging/providers"
    identity = rm.resources.get_by_id(
        f"{base}/Microsoft.ManagedIdentity/userAssignedIdentities/id-staging-ci", api_version="2023-01-31"
    )
    assert identity.properties["clientId"] == client_id
    fic = rm.resources.get_by_id(
        f"{base}/Microsoft.ManagedIdentity/userAssignedIdentities/id-staging-ci/federatedIdentityCredentials/ci",
        api_version="2023-01-31",
    )
    assert fic.properties["issuer"] == GITHUB_ISSUER
    assert fic.properties["subject"] == "repo:contoso/support-agent:environment:staging"
    assert fic.properties["audiences"] == [AUDIENCE]
    deployed = [r for r in result["deployed"] if r["deployment"] == "genaiops-staging-ci-from-dev"]
    assert deployed, "AcrPull on the source registry, deployed in the source's resource group"
