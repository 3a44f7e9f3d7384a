"""Secrets end to end in the stand-in (issue 14 item 5, issue 15 item 1): a secret set with the real
SecretClient in the Key Vault `genaiops provision` created (the shipped template's vault, output
`keyVaultUri`, whose Key Vault Secrets User role it grants the environment's identity), the sample
deployed with `secrets: {X: {keyvault: …}}`, and the running container sees both that value and the
environment's Application Insights connection string — read by the platform from Container Apps
secrets, never by genaiops into any output or file. The same release deploys again without a new
revision; a secret the vault lacks, or a vault on which the identity has no role, fails the new
revision with Azure's error and leaves traffic where it was."""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

import pytest

from genaiops_cli.errors import ExitCode

from .conftest import Project, Sandbox, own_project

# A vault that grants nobody anything (RBAC mode, no role assignment).
VAULT_TEMPLATE = {
    "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
    "contentVersion": "1.0.0.0",
    "parameters": {"name": {"type": "string"}},
    "resources": [
        {
            "type": "Microsoft.KeyVault/vaults",
            "apiVersion": "2024-11-01",
            "name": "[parameters('name')]",
            "location": "[resourceGroup().location]",
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
            "value": "[reference(resourceId('Microsoft.KeyVault/vaults', parameters('name')), "
            "'2024-11-01').vaultUri]",
        }
    },
}


@pytest.fixture(scope="module")
def project(sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Project:
    project = own_project(sandbox, tmp_path_factory.mktemp("kv"), ("dev",), prefix="kv")
    project.edit("genaiops.yaml", "name: contoso-support\n", "name: contoso-kv\n")
    return project


def _target() -> Any:
    from genaiops_cli.core.cloud import target_for

    return target_for("sandbox", None)


def _vault(resource_group: str, name: str) -> str:
    from genaiops_cli.providers.azure import clients

    done = (
        clients.deployments(_target())
        .deployments.begin_create_or_update(
            resource_group,
            f"vault-{name}",
            {
                "properties": {
                    "mode": "Incremental",
                    "template": VAULT_TEMPLATE,
                    "parameters": {"name": {"value": name}},
                }
            },
        )
        .result()
    )
    return str(done.properties.outputs["vaultUri"]["value"])


def _secret_client(vault_uri: str) -> Any:
    from azure.keyvault.secrets import SecretClient

    from genaiops_cli.providers.azure import clients

    target = _target()
    # the stand-in serves the vault at 127.0.0.1, not under vault.azure.net
    # (docs/sandbox-keyvault-differences.md)
    return SecretClient(
        vault_uri,
        clients.credential(target),
        verify_challenge_resource=False,
        connection_verify=target.verify,
    )


def _connection_string(reference: str) -> str:
    from genaiops_cli.providers.azure import clients

    component = clients.resource_groups(_target()).resources.get_by_id(
        reference.split("#")[0], api_version="2020-02-02"
    )
    return str(component.properties["ConnectionString"])


def _container_env(sandbox: Sandbox, revision: str) -> dict[str, str]:
    import docker

    host = getattr(sandbox.profile, "docker_host", "") or None
    client = docker.DockerClient(base_url=host) if host else docker.from_env()
    found = client.containers.list(filters={"label": f"genaiops.revision={revision}"})
    assert len(found) == 1, [c.name for c in found]
    return dict(e.split("=", 1) for e in found[0].attrs["Config"]["Env"] if "=" in e)


def _files_text(root: Path) -> str:
    return "\n".join(
        p.read_text(errors="replace") for p in root.rglob("*") if p.is_file() and ".git" not in p.parts
    )


def test_key_vault_secret_and_telemetry_reach_the_container_and_nothing_else(
    project: Project, sandbox: Sandbox
) -> None:
    outputs: list[str] = []

    def run(*args: str, timeout: float = 300) -> Any:
        done = project.run(*args, timeout=timeout)
        outputs.append(done.stdout + done.stderr)
        return done

    provisioned = run("-o", "json", "provision", "-e", "dev", "--yes")
    assert provisioned.code == 0, provisioned.stdout + provisioned.stderr
    cached = json.loads((project.root / ".genaiops/provisioned/dev.json").read_text())["outputs"]
    reference = cached["appInsightsConnectionStringSecretRef"]
    connection_string = _connection_string(reference)
    vault_uri = cached["keyVaultUri"]
    assert vault_uri.startswith("https://") and vault_uri.endswith("/")

    value = f"vault-value-{secrets.token_hex(8)}"
    _secret_client(vault_uri).set_secret("openai-api-key", value)
    project.edit(
        "genaiops.yaml",
        "    env:\n      LOG_LEVEL: info\n",
        "    env:\n      LOG_LEVEL: info\n    secrets:\n"
        f"      OPENAI_API_KEY: {{keyvault: '{vault_uri}secrets/openai-api-key'}}\n",
    )

    assert run("build", "--push", "-e", "dev").code == 0
    deployed = run("-o", "json", "deploy", "-e", "dev", "--timeout", "120")
    assert deployed.code == 0, deployed.stdout + deployed.stderr
    revision = deployed.json()["result"]["deployments"][0]["revision"]
    env = _container_env(sandbox, revision)
    assert env["OPENAI_API_KEY"] == value
    assert env["APPLICATIONINSIGHTS_CONNECTION_STRING"] == connection_string

    again = run("-o", "json", "deploy", "-e", "dev", "--timeout", "120")
    assert again.code == 0, again.stdout + again.stderr
    assert again.json()["result"]["deployments"][0]["revision"] == revision
    assert again.json()["result"]["deployments"][0]["action"] == "unchanged"

    # a secret the vault does not have: the new revision fails like Azure's, traffic stays
    project.edit("genaiops.yaml", "secrets/openai-api-key'", "secrets/not-there'")
    failed = run("-o", "json", "deploy", "-e", "dev", "--timeout", "120")
    assert failed.code == ExitCode.DEPLOY, failed.stdout + failed.stderr
    assert "Unable to get value using Managed identity" in failed.json()["error"]["message"]
    status = run("-o", "json", "status", "-e", "dev").json()["result"]["services"][0]
    assert status["live"] == revision

    # a vault the environment's identity has no role on: refused as Azure refuses it, traffic stays
    ungranted = _vault("rg-kv-dev", f"kv{secrets.token_hex(4)}")
    _secret_client(ungranted).set_secret("openai-api-key", value)
    project.edit("genaiops.yaml", f"{vault_uri}secrets/not-there'", f"{ungranted}secrets/openai-api-key'")
    refused = run("-o", "json", "deploy", "-e", "dev", "--timeout", "120")
    assert refused.code == ExitCode.DEPLOY, refused.stdout + refused.stderr
    assert (
        "unable to fetch secret 'openai-api-key' using Managed identity" in refused.json()["error"]["message"]
    )
    status = run("-o", "json", "status", "-e", "dev").json()["result"]["services"][0]
    assert status["live"] == revision

    for shown in (run("-o", "json", "config", "show", "-e", "dev"), run("history", "-e", "dev")):
        assert shown.code == 0, shown.stdout + shown.stderr
    leaked = [s for s in (value, connection_string) if any(s in out for out in outputs)]
    assert not leaked, "a secret value reached genaiops output"
    assert value not in _files_text(project.root) and connection_string not in _files_text(project.root)
