"""Container Apps jobs and Container Registry resources (incl. importImage) through the real SDKs."""

from __future__ import annotations

import conftest_arm
import pytest
from azure.core.exceptions import HttpResponseError
from azure.mgmt.appcontainers import models as m
from azure.mgmt.containerregistry import models as acr
from conftest_arm import ArmEnv, create_rg

arm_env = conftest_arm.arm_env  # the shared fixture, re-exported for pytest

RG = "rg-test"


def _job(env_id: str, image: str) -> m.Job:
    return m.Job(
        location="eastus2",
        environment_id=env_id,
        configuration=m.JobConfiguration(
            trigger_type="Manual",
            replica_timeout=60,
            replica_retry_limit=0,
            manual_trigger_config=m.JobConfigurationManualTriggerConfig(
                parallelism=1, replica_completion_count=1
            ),
        ),
        template=m.JobTemplate(containers=[m.Container(name="batch", image=image, args=["--shard", "1"])]),
    )


def test_job_runs_to_completion(arm_env: ArmEnv) -> None:
    create_rg(arm_env, RG)
    client = arm_env.apps_client()
    env = client.managed_environments.begin_create_or_update(
        RG, "cae", m.ManagedEnvironment(location="eastus2")
    ).result()
    job = client.jobs.begin_create_or_update(RG, "batch", _job(env.id, "127.0.0.1:5000/batch:1")).result()
    assert job.provisioning_state == "Succeeded" and job.running_state == "Ready"
    started = client.jobs.begin_start(RG, "batch").result()
    assert started.name.startswith("batch-") and started.id.endswith(f"/executions/{started.name}")
    assert arm_env.runtime.executions[started.name].containers[0].args == ["--shard", "1"]
    statuses = [client.job_execution(RG, "batch", started.name).status for _ in range(3)]
    assert statuses[0] == "Running" and statuses[-1] == "Succeeded"
    executions = list(client.jobs_executions.list(RG, "batch"))
    assert [e.name for e in executions] == [started.name]
    assert executions[0].end_time is not None


def test_job_execution_can_be_stopped_and_failures_are_reported(arm_env: ArmEnv) -> None:
    create_rg(arm_env, RG)
    client = arm_env.apps_client()
    env = client.managed_environments.begin_create_or_update(
        RG, "cae", m.ManagedEnvironment(location="eastus2")
    ).result()
    client.jobs.begin_create_or_update(RG, "bad", _job(env.id, "127.0.0.1:5000/crash:1")).result()
    run = client.jobs.begin_start(RG, "bad").result()
    client.job_execution(RG, "bad", run.name)
    failed = client.job_execution(RG, "bad", run.name)
    assert failed.status == "Failed" and failed.reason == "exit code 3"
    client.jobs.begin_stop_execution(RG, "bad", run.name).result()
    assert arm_env.runtime.exec_polls[run.name] == 99


def test_job_replica_settings_and_identity_reach_the_runtime(arm_env: ArmEnv) -> None:
    create_rg(arm_env, RG)
    client = arm_env.apps_client()
    env = client.managed_environments.begin_create_or_update(
        RG, "cae", m.ManagedEnvironment(location="eastus2")
    ).result()
    job = _job(env.id, "127.0.0.1:5000/batch:1")
    job.configuration.replica_retry_limit = 2
    job.configuration.manual_trigger_config = m.JobConfigurationManualTriggerConfig(
        parallelism=3, replica_completion_count=4
    )
    job.identity = m.ManagedServiceIdentity(type="SystemAssigned")
    created = client.jobs.begin_create_or_update(RG, "shards", job).result()
    run = client.jobs.begin_start(RG, "shards").result()
    spec = arm_env.runtime.executions[run.name]
    assert (spec.parallelism, spec.replica_completion_count, spec.replica_retry_limit) == (3, 4, 2)
    assert spec.identity is not None and spec.identity.principal_id == created.identity.principal_id
    assert spec.identity.resource_id.lower() == created.id.lower()

    # no identity on the job: its containers get none
    client.jobs.begin_create_or_update(RG, "plain", _job(env.id, "127.0.0.1:5000/batch:1")).result()
    plain = arm_env.runtime.executions[client.jobs.begin_start(RG, "plain").result().name]
    assert plain.identity is None and (plain.parallelism, plain.replica_completion_count) == (1, 1)


def test_registries_and_import_image(arm_env: ArmEnv) -> None:
    create_rg(arm_env, RG)
    client = arm_env.acr_client()
    dev = client.registries.begin_create(
        RG, "crdev", acr.Registry(location="eastus2", sku=acr.Sku(name="Standard"), admin_user_enabled=False)
    ).result()
    prod = client.registries.begin_create(
        RG, "crprod", acr.Registry(location="eastus2", sku=acr.Sku(name="Premium"))
    ).result()
    assert dev.login_server == arm_env.fleet.endpoints["crdev"].login_server
    assert dev.provisioning_state == "Succeeded" and dev.admin_user_enabled is False
    assert {r.name for r in client.registries.list_by_resource_group(RG)} == {"crdev", "crprod"}

    arm_env.fleet.images[(dev.login_server, "agent:1")] = "sha256:" + "a" * 64
    client.registries.begin_import_image(
        RG,
        "crprod",
        acr.ImportImageParameters(
            source=acr.ImportSource(resource_id=dev.id, source_image="agent:1"),
            target_tags=["agent:1"],
            mode="NoForce",
        ),
    ).result()
    assert arm_env.fleet.imports[-1] == {
        "target": "crprod",
        "source": dev.login_server,
        "image": "agent:1",
        "tags": ["agent:1"],
        "force": False,
    }
    assert arm_env.fleet.images[(prod.login_server, "agent:1")] == "sha256:" + "a" * 64

    # NoForce onto a tag holding another digest fails with the fleet's code; Force overwrites.
    arm_env.fleet.images[(dev.login_server, "agent:2")] = "sha256:" + "b" * 64
    with pytest.raises(HttpResponseError) as err:
        client.registries.begin_import_image(
            RG,
            "crprod",
            acr.ImportImageParameters(
                source=acr.ImportSource(registry_uri=dev.login_server, source_image="agent:2"),
                target_tags=["agent:1"],
                mode="NoForce",
            ),
        ).result()
    assert err.value.error.code == "TagAlreadyExists"
    client.registries.begin_import_image(
        RG,
        "crprod",
        acr.ImportImageParameters(
            source=acr.ImportSource(registry_uri=dev.login_server, source_image="agent:2"),
            target_tags=["agent:1"],
            mode="Force",
        ),
    ).result()
    assert arm_env.fleet.images[(prod.login_server, "agent:1")] == "sha256:" + "b" * 64

    with pytest.raises(HttpResponseError) as err:
        client.registries.begin_import_image(
            RG,
            "crprod",
            acr.ImportImageParameters(source=acr.ImportSource(resource_id=dev.id, source_image="missing:1")),
        ).result()
    assert err.value.error.code == "ImageNotFound"

    client.registries.begin_delete(RG, "crdev").result()
    assert arm_env.fleet.deleted == ["crdev"]
