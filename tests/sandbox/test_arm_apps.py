"""Container Apps through the real ContainerAppsAPIClient against the stand-in's ARM endpoint:
environments, multiple-revision apps, revisions, labels, traffic, label history."""

from __future__ import annotations

import time

import conftest_arm
import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.appcontainers import models as m
from conftest_arm import ArmEnv, create_rg

arm_env = conftest_arm.arm_env  # the shared fixture, re-exported for pytest

RG = "rg-test"


def _env(client, name: str = "cae") -> m.ManagedEnvironment:
    return client.managed_environments.begin_create_or_update(
        RG, name, m.ManagedEnvironment(location="eastus2")
    ).result()


def _app(
    env_id: str,
    image: str = "127.0.0.1:5000/agent:1",
    suffix: str | None = "v1",
    mode: str = "Multiple",
    traffic: list[m.TrafficWeight] | None = None,
) -> m.ContainerApp:
    return m.ContainerApp(
        location="eastus2",
        managed_environment_id=env_id,
        identity=m.ManagedServiceIdentity(type="SystemAssigned"),
        configuration=m.Configuration(
            active_revisions_mode=mode, ingress=m.Ingress(external=True, target_port=8080, traffic=traffic)
        ),
        template=m.Template(
            revision_suffix=suffix,
            containers=[
                m.Container(
                    name="main",
                    image=image,
                    env=[m.EnvironmentVar(name="COLOR", value="blue")],
                    resources=m.ContainerResources(cpu=0.5, memory="1Gi"),
                )
            ],
        ),
    )


@pytest.fixture
def apps(arm_env: ArmEnv):
    create_rg(arm_env, RG)
    client = arm_env.apps_client()
    return client, _env(client)


def test_managed_environment_default_domain_and_static_ip(arm_env: ArmEnv, apps) -> None:
    client, env = apps
    assert env.provisioning_state == "Succeeded"
    assert env.static_ip == "127.0.0.1"
    prefix, location, *rest = env.default_domain.split(".")
    assert len(prefix) == 8 and location == "eastus2" and ".".join(rest) == "sandbox.genaiops.test"
    assert client.managed_environments.get(RG, "cae").default_domain == env.default_domain
    assert [e.name for e in client.managed_environments.list_by_resource_group(RG)] == ["cae"]


def test_connected_environment_needs_and_echoes_extended_location(arm_env: ArmEnv, apps) -> None:
    client, _ = apps
    custom_location = (
        f"/subscriptions/{arm_env.subscription_id}/resourceGroups/{RG}/providers/"
        "Microsoft.ExtendedLocation/customLocations/arc-cl"
    )
    ce = client.connected_environments.begin_create_or_update(
        RG,
        "arc-env",
        m.ConnectedEnvironment(
            location="eastus2",
            extended_location=m.ExtendedLocation(name=custom_location, type="CustomLocation"),
        ),
    ).result()
    assert ce.extended_location.name == custom_location
    assert ce.default_domain.endswith(".eastus2.sandbox.genaiops.test")
    with pytest.raises(HttpResponseError) as err:
        client.connected_environments.begin_create_or_update(
            RG, "arc-bad", m.ConnectedEnvironment(location="eastus2")
        ).result()
    assert err.value.error.code == "WebhookInvalidParameterValue"


def test_multiple_revision_app_blue_green_flow(arm_env: ArmEnv, apps) -> None:
    client, env = apps
    app = client.container_apps.begin_create_or_update(RG, "agent", _app(env.id)).result()
    assert app.provisioning_state == "Succeeded"
    assert app.latest_revision_name == "agent--v1"
    assert app.latest_ready_revision_name == "agent--v1"
    assert app.configuration.ingress.fqdn == f"agent.{env.default_domain}"
    assert app.latest_revision_fqdn == f"agent--v1.{env.default_domain}"
    assert app.identity.principal_id and app.outbound_ip_addresses == ["127.0.0.1"]
    assert arm_env.runtime.revisions["agent--v1"].containers[0].env == {"COLOR": "blue"}

    # Green: a new revision at 0 %, labelled, while blue keeps 100 %.
    green = _app(
        env.id,
        image="127.0.0.1:5000/agent:2",
        suffix="v2",
        traffic=[
            m.TrafficWeight(revision_name="agent--v1", weight=100, label="blue"),
            m.TrafficWeight(latest_revision=True, weight=0, label="green"),
        ],
    )
    app = client.container_apps.begin_create_or_update(RG, "agent", green).result()
    assert app.latest_revision_name == "agent--v2"
    revisions = {r.name: r for r in client.container_apps_revisions.list_revisions(RG, "agent")}
    assert set(revisions) == {"agent--v1", "agent--v2"}
    assert revisions["agent--v1"].traffic_weight == 100 and revisions["agent--v2"].traffic_weight == 0
    assert all(r.active for r in revisions.values())
    routes = arm_env.runtime.routes["agent"]
    assert {(t.revision, t.weight, t.label) for t in routes.traffic} == {
        ("agent--v1", 100, "blue"),
        ("agent--v2", 0, "green"),
    }

    # Swap: traffic-only PATCH creates no revision.
    swapped = m.ContainerApp(
        location="eastus2",
        configuration=m.Configuration(
            ingress=m.Ingress(
                traffic=[
                    m.TrafficWeight(revision_name="agent--v2", weight=100, label="blue"),
                    m.TrafficWeight(revision_name="agent--v1", weight=0, label="green"),
                ]
            )
        ),
    )
    app = client.container_apps.begin_update(RG, "agent", swapped).result()
    assert app.latest_revision_name == "agent--v2"
    assert len(list(client.container_apps_revisions.list_revisions(RG, "agent"))) == 2
    assert client.container_apps_revisions.get_revision(RG, "agent", "agent--v2").traffic_weight == 100

    # Old side: deactivate blue's previous revision once it has no traffic, then bring it back.
    client.container_apps.begin_update(
        RG,
        "agent",
        m.ContainerApp(
            location="eastus2",
            configuration=m.Configuration(
                ingress=m.Ingress(
                    traffic=[m.TrafficWeight(revision_name="agent--v2", weight=100, label="blue")]
                )
            ),
        ),
    ).result()
    client.container_apps_revisions.deactivate_revision(RG, "agent", "agent--v1")
    old = client.container_apps_revisions.get_revision(RG, "agent", "agent--v1")
    assert old.active is False and old.running_state == "Stopped"
    assert "agent--v1" in arm_env.runtime.stopped
    client.container_apps_revisions.activate_revision(RG, "agent", "agent--v1")
    assert client.container_apps_revisions.get_revision(RG, "agent", "agent--v1").active is True
    client.container_apps_revisions.restart_revision(RG, "agent", "agent--v1")
    assert arm_env.runtime.restarts == ["agent--v1"]

    history = {h.name: h for h in client.container_apps_label_history.list_label_history(RG, "agent")}
    assert set(history) == {"blue", "green"}
    blue = client.container_apps_label_history.get_label_history(RG, "agent", "blue")
    assert [r.revision for r in blue.properties.records] == ["agent--v2", "agent--v1"]  # newest first
    assert blue.properties.records[1].stop is not None


def test_deactivating_a_revision_with_traffic_is_allowed_as_in_azure(arm_env: ArmEnv, apps) -> None:
    """Azure does not refuse it (microsoft/azure-container-apps#1345) and keeps the traffic entry
    (#410); the revision stops serving."""
    client, env = apps
    client.container_apps.begin_create_or_update(RG, "agent", _app(env.id)).result()
    client.container_apps_revisions.deactivate_revision(RG, "agent", "agent--v1")
    rev = client.container_apps_revisions.get_revision(RG, "agent", "agent--v1")
    assert rev.active is False and rev.running_state == "Stopped"
    app = client.container_apps.get(RG, "agent")
    assert [t.weight for t in app.configuration.ingress.traffic] == [100]
    assert "agent--v1" in arm_env.runtime.stopped


def test_single_mode_new_revision_takes_over_and_old_is_deactivated(arm_env: ArmEnv, apps) -> None:
    client, env = apps
    client.container_apps.begin_create_or_update(RG, "web", _app(env.id, suffix=None, mode="Single")).result()
    first = client.container_apps.get(RG, "web").latest_revision_name
    assert first.startswith("web--") and len(first) > len("web--")
    # Same template again: no new revision.
    app = client.container_apps.get(RG, "web")
    client.container_apps.begin_create_or_update(RG, "web", app).result()
    assert len(list(client.container_apps_revisions.list_revisions(RG, "web"))) == 1
    app.template.containers[0].image = "127.0.0.1:5000/agent:2"
    app.template.revision_suffix = None
    app = client.container_apps.begin_create_or_update(RG, "web", app).result()
    assert app.latest_revision_name != first
    revs = {r.name: r for r in client.container_apps_revisions.list_revisions(RG, "web")}
    assert revs[first].active is False and revs[app.latest_revision_name].traffic_weight == 100


@pytest.mark.parametrize(
    "traffic, needle",
    [
        ([m.TrafficWeight(latest_revision=True, weight=60)], "add up to 100"),
        (
            [
                m.TrafficWeight(latest_revision=True, weight=50, label="x"),
                m.TrafficWeight(revision_name="agent--v1", weight=50, label="x"),
            ],
            "unique",
        ),
        ([m.TrafficWeight(revision_name="agent--nope", weight=100)], "not found"),
    ],
)
def test_invalid_traffic_is_an_arm_400(arm_env: ArmEnv, apps, traffic, needle) -> None:
    client, env = apps
    client.container_apps.begin_create_or_update(RG, "agent", _app(env.id)).result()
    with pytest.raises(HttpResponseError) as err:
        client.container_apps.begin_update(
            RG,
            "agent",
            m.ContainerApp(
                location="eastus2", configuration=m.Configuration(ingress=m.Ingress(traffic=traffic))
            ),
        ).result()
    assert err.value.status_code == 400
    assert err.value.error.code == "WebhookInvalidParameterValue"
    assert needle in err.value.error.message


def test_reused_revision_suffix_is_rejected(arm_env: ArmEnv, apps) -> None:
    client, env = apps
    client.container_apps.begin_create_or_update(RG, "agent", _app(env.id)).result()
    with pytest.raises(HttpResponseError) as err:
        client.container_apps.begin_create_or_update(
            RG, "agent", _app(env.id, image="127.0.0.1:5000/agent:9")
        ).result()
    assert err.value.status_code == 400 and "already exists" in err.value.error.message


def test_crashing_revision_fails_the_operation_with_the_reason(arm_env: ArmEnv, apps) -> None:
    client, env = apps
    with pytest.raises(HttpResponseError) as err:
        client.container_apps.begin_create_or_update(
            RG, "bad", _app(env.id, image="127.0.0.1:5000/crash:1")
        ).result()
    assert err.value.error.code == "ContainerAppOperationError"
    assert "bad--v1" in err.value.error.message and "exited with code 3" in err.value.error.message
    app = client.container_apps.get(RG, "bad")
    assert app.provisioning_state == "Failed" and app.latest_ready_revision_name is None
    rev = client.container_apps_revisions.get_revision(RG, "bad", "bad--v1")
    assert rev.provisioning_state == "Failed" and "exited" in rev.provisioning_error


def test_stuck_revision_keeps_the_operation_in_progress_until_cleared(arm_env: ArmEnv, apps) -> None:
    client, env = apps
    from genaiops_sandbox.faults import FaultRule

    arm_env.faults.add(FaultRule(method="*", path_regex="^slow--v1$", kind="stuck_revision"))
    poller = client.container_apps.begin_create_or_update(RG, "slow", _app(env.id))
    time.sleep(0.3)
    assert not poller.done()
    assert client.container_apps.get(RG, "slow").provisioning_state == "InProgress"
    assert (
        client.container_apps_revisions.get_revision(RG, "slow", "slow--v1").provisioning_state
        == "Provisioning"
    )
    arm_env.faults.clear()
    assert poller.result(timeout=10).provisioning_state == "Succeeded"


def test_delete_app_and_list_by_subscription(arm_env: ArmEnv, apps) -> None:
    client, env = apps
    client.container_apps.begin_create_or_update(RG, "agent", _app(env.id)).result()
    assert [a.name for a in client.container_apps.list_by_subscription()] == ["agent"]
    client.container_apps.begin_delete(RG, "agent").result()
    assert arm_env.runtime.removed == ["agent"]
    with pytest.raises(ResourceNotFoundError):
        client.container_apps.get(RG, "agent")


def test_an_app_identity_reaches_its_revisions(arm_env: ArmEnv, apps) -> None:
    client, env = apps
    app = client.container_apps.begin_create_or_update(RG, "agent", _app(env.id)).result()
    spec = arm_env.runtime.revisions["agent--v1"]
    assert spec.identity is not None and spec.identity.principal_id == app.identity.principal_id
    assert spec.identity.resource_id.lower() == app.id.lower()
