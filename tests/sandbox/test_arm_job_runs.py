"""Scheduled jobs and execution logs in the stand-in, through the real SDK: a Schedule job starts
one execution per due minute of its cron (UTC) and a Manual one never does; logs are read the way
`az containerapp job logs show` reads them (replicas, getAuthToken, logstream), and the log stream
takes only a token the job issued — never an ARM token."""

from __future__ import annotations

import json
import ssl
from typing import Any

import conftest_arm
import httpx
from azure.core.rest import HttpRequest
from azure.mgmt.appcontainers import models as m
from conftest_arm import ArmEnv, create_rg

from genaiops_sandbox.arm.job_schedule import due

arm_env = conftest_arm.arm_env  # the shared fixture, re-exported for pytest

RG = "rg-sched"
PREVIEW = "2023-11-02-preview"


def _job(env_id: str, trigger: str, cron: str | None = None) -> m.Job:
    config = m.JobConfiguration(trigger_type=trigger, replica_timeout=60, replica_retry_limit=0)
    if cron:
        config.schedule_trigger_config = m.JobConfigurationScheduleTriggerConfig(cron_expression=cron)
    return m.Job(
        location="eastus2",
        environment_id=env_id,
        configuration=config,
        template=m.JobTemplate(containers=[m.Container(name="scorer", image="127.0.0.1:5000/scorer:1")]),
    )


def _setup(arm_env: ArmEnv) -> Any:
    create_rg(arm_env, RG)
    client = arm_env.apps_client()
    env = client.managed_environments.begin_create_or_update(
        RG, "cae", m.ManagedEnvironment(location="eastus2")
    ).result()
    client.jobs.begin_create_or_update(RG, "nightly", _job(env.id, "Schedule", "0 2 * * *")).result()
    client.jobs.begin_create_or_update(RG, "manual", _job(env.id, "Manual")).result()
    return client


def _tick(arm_env: ArmEnv, at: str) -> list[str]:
    ctx = ssl.create_default_context(cafile=arm_env.ca)
    return httpx.post(f"{arm_env.url}/sandbox/jobs/tick", json={"at": at}, verify=ctx).json()["started"]


def test_a_schedule_starts_one_execution_per_due_minute(arm_env: ArmEnv) -> None:
    client = _setup(arm_env)
    assert _tick(arm_env, "2026-12-06T01:59:00Z") == []
    assert _tick(arm_env, "2026-12-06T02:00:10Z") == ["nightly"], "due: started; the manual job never is"
    assert _tick(arm_env, "2026-12-06T02:00:50Z") == [], "the same minute fires once"
    assert _tick(arm_env, "2026-12-06T02:01:00Z") == []
    assert _tick(arm_env, "2026-12-07T02:00:00Z") == ["nightly"]
    assert len(list(client.jobs_executions.list(RG, "nightly"))) == 2
    assert list(client.jobs_executions.list(RG, "manual")) == []
    assert due("*/15 * * * *", __import__("datetime").datetime(2026, 1, 1, 3, 45))
    assert not due("0 0 ? * *", __import__("datetime").datetime(2026, 1, 1, 0, 0)), "not cron: never due"


def _preview(client: Any, arm_env: ArmEnv, method: str, suffix: str, version: str = PREVIEW) -> Any:
    url = (
        f"{arm_env.url}/subscriptions/{arm_env.subscription_id}/resourceGroups/{RG}"
        f"/providers/Microsoft.App/jobs/{suffix}?api-version={version}"
    )
    return client.send_request(HttpRequest(method, url))


def test_logs_are_read_as_az_reads_them_with_the_jobs_own_token(arm_env: ArmEnv) -> None:
    client = _setup(arm_env)
    run = client.jobs.begin_start(RG, "manual").result()
    replica = f"{run.name}-abc123"
    arm_env.runtime.job_execution_replicas = lambda execution: [  # type: ignore[attr-defined]
        {"name": replica, "created": "2026-01-01T00:00:00Z", "running": False, "exit_code": 0}
    ]
    arm_env.runtime.job_replica_logs = (
        lambda execution, name, tail: (  # type: ignore[attr-defined]
            [("2026-01-01T00:00:01Z", "scored 3 rows"), ("2026-01-01T00:00:02Z", "done")][-tail:]
            if name == replica
            else None
        )
    )
    replicas = _preview(client, arm_env, "GET", f"manual/executions/{run.name}/replicas")
    assert replicas.status_code == 200
    [found] = replicas.json()["value"]
    assert found["name"] == replica and found["properties"]["containers"][0]["name"] == "scorer"
    stream = client.jobs.get(RG, "manual").event_stream_endpoint
    assert stream.startswith(arm_env.url + "/subscriptions/")

    token = _preview(client, arm_env, "POST", "manual/getAuthToken").json()["properties"]["token"]
    other = _preview(client, arm_env, "POST", "nightly/getAuthToken").json()["properties"]["token"]
    url = found["properties"]["containers"][0]["logStreamEndpoint"]
    ctx = ssl.create_default_context(cafile=arm_env.ca)
    read = httpx.get(
        url,
        params={"output": "json", "tailLines": "300"},
        headers={"Authorization": f"Bearer {token}"},
        verify=ctx,
    )
    assert read.status_code == 200
    assert [json.loads(line) for line in read.text.splitlines()] == [
        {"TimeStamp": "2026-01-01T00:00:01Z", "Log": "scored 3 rows"},
        {"TimeStamp": "2026-01-01T00:00:02Z", "Log": "done"},
    ]
    text = httpx.get(
        url,
        params={"output": "text", "tailLines": "1"},
        headers={"Authorization": f"Bearer {token}"},
        verify=ctx,
    )
    assert text.text == "2026-01-01T00:00:02Z done\n"

    arm_token = arm_env.credential().get_token("https://management.azure.com/.default").token
    for bearer in (arm_token, other, "nonsense"):
        refused = httpx.get(url, headers={"Authorization": f"Bearer {bearer}"}, verify=ctx)
        assert refused.status_code == 401, "only a token the job itself issued reads its logs"
