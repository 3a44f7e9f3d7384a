"""Secrets of a Container App (core/app_secrets.py through core/deploy.py), over the in-memory fake of
the ContainerAppsApi port: Key Vault references become `{name, keyVaultUrl, identity}` secrets read by
`secretRef`, the Application Insights connection string becomes the `appinsights-connection-string`
secret, the identities they name are on the app, the revision never depends on a secret's value, and
the value never reaches an outcome or an event."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from genaiops_cli.core import app_secrets
from genaiops_cli.core.environment import open_environment
from genaiops_cli.core.hosts.containerapps import ContainerAppsHost
from genaiops_cli.core.manifest.loader import load_manifest
from genaiops_cli.core.provisioning import ProvisionedState
from genaiops_cli.errors import DeployError
from tests.core.fakes import MANIFEST, MemoryCloud, World
from tests.core.test_containerapps_host import D1, D2, MemoryArm, image

SUB = "00000000-0000-0000-0000-000000000000"
RG = f"/subscriptions/{SUB}/resourceGroups/rg-prod/providers"
IDENTITY = f"{RG}/Microsoft.ManagedIdentity/userAssignedIdentities/id-prod"
COMPONENT = f"{RG}/Microsoft.Insights/components/appi-prod"
REFERENCE = f"{COMPONENT}#properties.ConnectionString"
KV = "https://kv-prod.vault.azure.net/secrets/openai-key"
CONN = "InstrumentationKey=00000000-1111-2222-3333-444444444444;IngestionEndpoint=https://in.example.test/"


class SecretArm(MemoryArm):
    """MemoryArm plus ARM reads of secret references (the component's ConnectionString)."""

    def __init__(self) -> None:
        super().__init__()
        self.connection_string: str | None = CONN
        self.reference_reads: list[str] = []

    def resolve_reference(self, reference: str) -> str | None:
        self.reference_reads.append(reference)
        return self.connection_string

    def body(self, name: str = "demo-agent") -> dict[str, Any]:
        return self.apps[name]


def manifest_with(tmp_path: Path, service_extra: str) -> Path:
    text = MANIFEST.replace(
        "    ingress: {port: 8080, health: /healthz}\n",
        "    ingress: {port: 8080, health: /healthz}\n" + service_extra,
        1,
    )
    (tmp_path / "src" / "agent").mkdir(parents=True, exist_ok=True)
    (tmp_path / "src" / "agent" / "Dockerfile").write_text("FROM scratch\n")
    f = tmp_path / "genaiops.yaml"
    f.write_text(text)
    return f


def open_host(
    tmp_path: Path, service_extra: str = "", outputs: dict[str, Any] | None = None
) -> tuple[ContainerAppsHost, SecretArm]:
    manifest = load_manifest(manifest_with(tmp_path, service_extra))
    arm = SecretArm()
    state = ProvisionedState(
        "prod",
        "rg-prod",
        "genaiops-prod",
        outputs if outputs is not None else {"identityId": IDENTITY, app_secrets.TELEMETRY_OUTPUT: REFERENCE},
    )
    world = World(tmp_path / "world")
    env = open_environment(
        manifest, "prod", MemoryCloud(world), {"containerapp": lambda e, t: None}, provisioned=state
    )
    return ContainerAppsHost(env, arm), arm


def record(events: list[str]) -> Any:
    return lambda service, message: events.append(message)


SECRETS = f"    secrets:\n      OPENAI_API_KEY: {{keyvault: '{KV}'}}\n"


def test_key_vault_reference_and_telemetry_become_app_secrets_read_by_secret_ref(tmp_path: Path) -> None:
    host, arm = open_host(tmp_path, SECRETS)
    host.deploy("agent", image(D1), 5, record([]))
    app = arm.body()
    secrets = {s["name"]: s for s in app["properties"]["configuration"]["secrets"]}
    assert secrets["openai-api-key"] == {"name": "openai-api-key", "keyVaultUrl": KV, "identity": IDENTITY}
    assert secrets[app_secrets.TELEMETRY_SECRET] == {"name": app_secrets.TELEMETRY_SECRET, "value": CONN}
    env = app["properties"]["template"]["containers"][0]["env"]
    assert {"name": "OPENAI_API_KEY", "secretRef": "openai-api-key"} in env
    assert {
        "name": "APPLICATIONINSIGHTS_CONNECTION_STRING",
        "secretRef": "appinsights-connection-string",
    } in env
    assert app["identity"] == {"type": "UserAssigned", "userAssignedIdentities": {IDENTITY: {}}}
    assert arm.reference_reads == [REFERENCE]
    # the revision template holds names only: the value is nowhere in it
    assert CONN not in repr(app["properties"]["template"])


def test_without_a_user_assigned_identity_secrets_use_the_system_assigned_one(tmp_path: Path) -> None:
    host, arm = open_host(tmp_path, SECRETS, outputs={app_secrets.TELEMETRY_OUTPUT: REFERENCE})
    host.deploy("agent", image(D1), 5, record([]))
    app = arm.body()
    kv = [s for s in app["properties"]["configuration"]["secrets"] if s.get("keyVaultUrl")]
    assert kv == [{"name": "openai-api-key", "keyVaultUrl": KV, "identity": "system"}]
    assert app["identity"] == {"type": "SystemAssigned"}


def test_a_secret_with_its_own_identity_adds_it_next_to_the_system_one(tmp_path: Path) -> None:
    extra = f"    secrets:\n      K: {{keyvault: '{KV}', identity: id-reader}}\n"
    host, arm = open_host(tmp_path, extra, outputs={})
    host.deploy("agent", image(D1), 5, record([]))
    app = arm.body()
    reader = IDENTITY.replace("id-prod", "id-reader")
    assert app["properties"]["configuration"]["secrets"] == [
        {"name": "k", "keyVaultUrl": KV, "identity": reader}
    ]
    assert app["identity"] == {"type": "SystemAssigned,UserAssigned", "userAssignedIdentities": {reader: {}}}


def test_same_release_and_same_connection_string_make_no_new_revision(tmp_path: Path) -> None:
    host, arm = open_host(tmp_path, SECRETS)
    first = host.deploy("agent", image(D1), 5, record([]))
    puts = [w for w in arm.writes if w[0] == "put"]
    again = host.deploy("agent", image(D1), 5, record([]))
    assert again.revision == first.revision and again.action == "unchanged"
    assert [w for w in arm.writes if w[0] == "put"] == puts  # no app write at all
    assert arm.reference_reads == [REFERENCE]  # nor a read of the connection string


def test_the_revision_never_depends_on_the_connection_string_value(tmp_path: Path) -> None:
    host, arm = open_host(tmp_path / "a", SECRETS)
    other_host, other_arm = open_host(tmp_path / "b", SECRETS)
    other_arm.connection_string = "InstrumentationKey=ffffffff-0000-0000-0000-000000000000"
    assert host.deploy("agent", image(D1), 5, record([])).revision == (
        other_host.deploy("agent", image(D1), 5, record([])).revision
    )
    # a new release writes the app again, with the connection string read afresh
    host.deploy("agent", image(D2), 5, record([]))
    assert arm.reference_reads == [REFERENCE, REFERENCE]


def test_telemetry_false_opts_out(tmp_path: Path) -> None:
    host, arm = open_host(tmp_path, "    telemetry: false\n")
    host.deploy("agent", image(D1), 5, record([]))
    app = arm.body()
    assert "secrets" not in app["properties"]["configuration"]
    assert all(
        e["name"] != app_secrets.TELEMETRY_ENV for e in app["properties"]["template"]["containers"][0]["env"]
    )
    assert arm.reference_reads == []


def test_an_environment_without_application_insights_deploys_without_telemetry(tmp_path: Path) -> None:
    host, arm = open_host(tmp_path, "", outputs={"identityId": IDENTITY})
    host.deploy("agent", image(D1), 5, record([]))
    assert "secrets" not in arm.body()["properties"]["configuration"]
    assert arm.reference_reads == []


def test_a_connection_to_app_insights_reads_the_same_secret(tmp_path: Path) -> None:
    host, arm = open_host(tmp_path, "    connections: {APPINSIGHTS: app_insights.connection_string}\n")
    host.deploy("agent", image(D1), 5, record([]))
    env = arm.body()["properties"]["template"]["containers"][0]["env"]
    assert {"name": "APPINSIGHTS", "secretRef": app_secrets.TELEMETRY_SECRET} in env


def test_the_connection_string_never_reaches_outcome_or_events(tmp_path: Path) -> None:
    host, _ = open_host(tmp_path, SECRETS)
    events: list[str] = []
    outcome = host.deploy("agent", image(D1), 5, record(events))
    seen = repr(outcome) + repr(outcome.__dict__) + "\n".join(events)
    assert CONN not in seen and "InstrumentationKey" not in seen
    assert CONN not in repr(app_secrets.AppSecret(app_secrets.TELEMETRY_SECRET, value=CONN))


def test_a_component_without_connection_string_fails_the_deploy_before_any_write(tmp_path: Path) -> None:
    host, arm = open_host(tmp_path, SECRETS)
    arm.connection_string = None
    with pytest.raises(DeployError, match="no connection string") as caught:
        host.deploy("agent", image(D1), 5, record([]))
    assert caught.value.code == "telemetry_unavailable" and arm.writes == []


@pytest.mark.parametrize(
    "variable,secret",
    [("OPENAI_API_KEY", "openai-api-key"), ("_private_", "private"), ("A__B", "a--b"), ("X1", "x1")],
)
def test_secret_names_follow_the_variable(variable: str, secret: str) -> None:
    assert app_secrets.secret_name(variable) == secret
    assert app_secrets.name_problem(variable, {}) is None


def test_pointing_a_variable_at_another_secret_makes_a_new_revision(tmp_path: Path) -> None:
    host, _ = open_host(tmp_path / "a", SECRETS)
    moved, _ = open_host(tmp_path / "b", SECRETS.replace("openai-key", "openai-key-2"))
    same, _ = open_host(tmp_path / "c", SECRETS)
    plain, _ = open_host(tmp_path / "d", "")
    assert host.expected_revision("agent", image(D1)) == same.expected_revision("agent", image(D1))
    assert host.expected_revision("agent", image(D1)) != moved.expected_revision("agent", image(D1))
    # a service without Key Vault references keeps the revision names it had before they existed
    from genaiops_cli.core import containerapps as ca

    template = ca.container_template("agent", plain.env.resolved.services["agent"], image(D1), telemetry=True)
    assert plain.expected_revision("agent", image(D1)).endswith(
        ca.revision_suffix(template, plain.placement.environment_id)
    )
