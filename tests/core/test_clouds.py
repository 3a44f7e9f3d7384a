"""One table of Azure endpoints: the three named clouds resolve to their own sign-in authority, ARM
endpoint and audiences, all the way into the SDK clients; the stand-in's profile fills the same slots."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from genaiops_cli.core.cloud import AZURE_CLOUDS, azure_cloud, target_for
from genaiops_cli.errors import UsageError

SUB = "00000000-0000-0000-0000-000000000000"

EXPECTED = {
    "AzureCloud": (
        "https://login.microsoftonline.com",
        "https://management.azure.com",
        "https://management.azure.com/.default",
        "https://containerregistry.azure.net",
        "azurecr.io",
    ),
    "AzureUSGovernment": (
        "https://login.microsoftonline.us",
        "https://management.usgovcloudapi.net",
        "https://management.core.usgovcloudapi.net/.default",
        "https://management.usgovcloudapi.net",
        "azurecr.us",
    ),
    "AzureChinaCloud": (
        "https://login.chinacloudapi.cn",
        "https://management.chinacloudapi.cn",
        "https://management.chinacloudapi.cn/.default",
        "https://management.chinacloudapi.cn",
        "azurecr.cn",
    ),
}


@pytest.mark.parametrize("name", list(EXPECTED))
def test_each_cloud_resolves_to_its_endpoints(name: str) -> None:
    authority, arm, scope, acr_audience, suffix = EXPECTED[name]
    cloud = azure_cloud(name)
    assert (
        cloud.authority_host,
        cloud.arm_endpoint,
        cloud.arm_scope,
        cloud.acr_audience,
        cloud.acr_suffix,
    ) == (
        authority,
        arm,
        scope,
        acr_audience,
        suffix,
    )
    target = target_for("azure", SUB, None, name)
    assert (target.authority_host, target.arm_endpoint, target.arm_scope, target.acr_audience) == (
        authority,
        arm,
        scope,
        acr_audience,
    )


def test_the_table_agrees_with_the_azure_sdks_own_constants() -> None:
    """azure-mgmt-core and azure-identity ship these values too: ours must not drift from them."""
    from azure.core import AzureClouds
    from azure.identity import AzureAuthorityHosts
    from azure.mgmt.core.tools import get_arm_endpoints

    for ours, sdk, authority in (
        ("AzureCloud", AzureClouds.AZURE_PUBLIC_CLOUD, AzureAuthorityHosts.AZURE_PUBLIC_CLOUD),
        ("AzureUSGovernment", AzureClouds.AZURE_US_GOVERNMENT, AzureAuthorityHosts.AZURE_GOVERNMENT),
        ("AzureChinaCloud", AzureClouds.AZURE_CHINA_CLOUD, AzureAuthorityHosts.AZURE_CHINA),
    ):
        arm = get_arm_endpoints(sdk)
        cloud = AZURE_CLOUDS[ours]
        assert cloud.arm_endpoint == arm["resource_manager"].rstrip("/")
        assert [cloud.arm_scope] == arm["credential_scopes"]
        assert cloud.authority_host == f"https://{authority}"


@pytest.mark.parametrize("name", list(EXPECTED))
def test_sdk_clients_are_built_for_the_named_cloud(name: str) -> None:
    from genaiops_cli.providers.azure import clients

    _, arm, scope, acr_audience, suffix = EXPECTED[name]
    target = target_for("azure", SUB, None, name)
    apps = clients.container_apps(target)
    assert (apps._config.base_url, apps._config.credential_scopes) == (arm, [scope])
    registry = clients.registry_data(target, f"crdemo.{suffix}")
    assert registry._client._config.credential_scopes == [acr_audience + "/.default"]


def test_names_are_the_az_cli_ones_case_insensitively() -> None:
    assert azure_cloud("azureusgovernment").name == "AzureUSGovernment"
    assert azure_cloud(None).name == "AzureCloud"
    with pytest.raises(UsageError) as err:
        azure_cloud("AzureGermanCloud")
    assert "AzureCloud, AzureUSGovernment, AzureChinaCloud" in (err.value.hint or "")


def test_manifest_field_reaches_the_target(tmp_path: Path) -> None:
    from genaiops_cli.core.manifest.loader import load_manifest
    from genaiops_cli.core.targets import environment_target

    template = (Path(__file__).resolve().parents[2] / "templates" / "agent" / "genaiops.yaml").read_text()
    text = template.replace(
        "  dev:\n    cloud: sandbox\n", "  dev:\n    cloud: azure\n    azure_cloud: AzureChinaCloud\n"
    )
    assert "AzureChinaCloud" in text
    (tmp_path / "genaiops.yaml").write_text(text)
    manifest = load_manifest(tmp_path / "genaiops.yaml")
    assert environment_target(manifest, "dev").arm_endpoint == "https://management.chinacloudapi.cn"


def test_the_stand_in_profile_supplies_the_same_endpoints(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    profile = {
        "arm_endpoint": "https://127.0.0.1:4443",
        "authority_host": "https://127.0.0.1:4443",
        "tenant_id": "t",
        "client_id": "c",
        "client_secret_file": str(tmp_path / "secret"),
        "subscription_id": SUB,
        "ca_bundle": str(tmp_path / "ca.pem"),
        "docker_host": "unix:///x",
        "router": "127.0.0.1:1",
        "arm_audience": "https://arm.standin.test",
        "acr_audience": "https://acr.standin.test",
    }
    (tmp_path / "profile.json").write_text(json.dumps(profile))
    monkeypatch.setenv("GENAIOPS_SANDBOX_DIR", str(tmp_path))
    target = target_for("sandbox", None)
    assert (target.arm_endpoint, target.authority_host) == (
        "https://127.0.0.1:4443",
        "https://127.0.0.1:4443",
    )
    assert (target.arm_scope, target.acr_audience) == (
        "https://arm.standin.test/.default",
        "https://acr.standin.test",
    )


@pytest.mark.parametrize(
    ("name", "host"),
    [
        ("AzureCloud", "stdemo.blob.core.windows.net"),
        ("AzureUSGovernment", "stdemo.blob.core.usgovcloudapi.net"),
        ("AzureChinaCloud", "stdemo.blob.core.chinacloudapi.cn"),
    ],
)
def test_storage_accounts_are_addressed_in_the_named_cloud(name: str, host: str) -> None:
    """Datasets and environment locks live in the storage account; a sovereign cloud's account is
    not under blob.core.windows.net."""
    from genaiops_cli.providers.azure.blob_datasets import dataset_store

    store = dataset_store(target_for("azure", SUB, None, name), "rg-demo", "stdemo")
    assert store is not None and store.location == f"https://{host}/genaiops-datasets"
    assert dataset_store(target_for("azure", SUB, None, name), "rg-demo", None) is None
