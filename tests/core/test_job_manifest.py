"""`host: containerapp-job` in the manifest: triggers validated at validate time with file:line and
a hint (cron syntax, bounds, settings a job cannot honour), and the cron module itself."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from genaiops_cli.core import cron
from genaiops_cli.core.manifest.loader import load_manifest
from genaiops_cli.errors import ExitCode, ManifestError

BASE = (Path(__file__).parent / "manifests" / "base.yaml").read_text()
JOB = """  nightly:
    build: {context: src/agent}
    repository: demo/nightly
    host: containerapp-job
    trigger: {type: schedule, cron: "0 2 * * *", parallelism: 2, completions: 4, replica_timeout: 600}
"""


def manifest(tmp_path: Path, job: str = JOB) -> Path:
    text = BASE.replace("evaluations:\n", job + "evaluations:\n", 1)
    (tmp_path / "src" / "agent").mkdir(parents=True)
    (tmp_path / "src" / "agent" / "Dockerfile").write_text("FROM scratch\n")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "eval.jsonl").write_text("{}\n")
    f = tmp_path / "genaiops.yaml"
    f.write_text(text)
    return f


def test_the_rules_and_the_model_name_the_job_host_alike() -> None:
    from genaiops_cli.core.manifest import model, rules

    assert rules.JOB_HOST == model.JOB_HOST == "containerapp-job"


def test_a_scheduled_job_is_valid(tmp_path: Path) -> None:
    m = load_manifest(manifest(tmp_path), environ={})
    svc = m.services["nightly"]
    assert svc.host == "containerapp-job"
    assert svc.trigger is not None and svc.trigger.cron == "0 2 * * *" and svc.trigger.parallelism == 2


# (id, job text, issue path, line, fragment). The job starts at line 13 of the file.
CASES = [
    (
        "bad-cron-field",
        JOB.replace('"0 2 * * *"', '"0 25 * * *"'),
        "services.nightly.trigger.cron",
        17,
        "hour field: 25",
    ),
    (
        "cron-six-fields",
        JOB.replace('"0 2 * * *"', '"0 0 2 * * *"'),
        "services.nightly.trigger.cron",
        17,
        "seconds field",
    ),
    ("cron-quartz", JOB.replace('"0 2 * * *"', '"0 2 ? * *"'), "services.nightly.trigger.cron", 17, "Quartz"),
    (
        "schedule-without-cron",
        JOB.replace(', cron: "0 2 * * *"', ""),
        "services.nightly.trigger",
        17,
        "needs `cron`",
    ),
    (
        "cron-on-manual",
        JOB.replace("type: schedule", "type: manual"),
        "services.nightly.trigger",
        17,
        "only applies to `type: schedule`",
    ),
    (
        "completions-below-parallelism",
        JOB.replace("completions: 4", "completions: 1"),
        "services.nightly.trigger",
        17,
        "completions (1) is less than parallelism (2)",
    ),
    (
        "timeout-too-long",
        JOB.replace("replica_timeout: 600", "replica_timeout: 90000"),
        "services.nightly.trigger.replica_timeout",
        17,
        "86400",
    ),
    (
        "missing-trigger",
        JOB.replace("    trigger: {", "    x-trigger: {").replace("    x-trigger:", "#"),
        "services.nightly.trigger",
        13,
        "missing required key `trigger`",
    ),
    (
        "job-with-ingress",
        JOB + "    ingress: {port: 8080}\n",
        "services.nightly.ingress",
        18,
        "a job has no ingress",
    ),
    (
        "job-with-secrets",
        JOB + "    secrets: {API_KEY: {keyvault: https://kv.vault.azure.net/secrets/k}}\n",
        "services.nightly.secrets",
        18,
        "does not pass Key Vault secrets to a job",
    ),
    (
        "job-with-telemetry-connection",
        JOB + "    connections: {APPLICATIONINSIGHTS_CONNECTION_STRING: app_insights.connection_string}\n",
        "services.nightly.connections.APPLICATIONINSIGHTS_CONNECTION_STRING",
        18,
        "does not pass secrets to a job",
    ),
    (
        "job-with-smoke",
        JOB + "    smoke: [{name: s, request: {path: /}}]\n",
        "services.nightly.smoke",
        18,
        "no endpoint",
    ),
    (
        "trigger-on-app",
        JOB.replace("host: containerapp-job", "host: containerapp\n    ingress: {port: 80}"),
        "services.nightly.trigger",
        18,
        "only applies to host: containerapp-job",
    ),
]


@pytest.mark.parametrize(
    ("job", "path", "line", "fragment"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_bad_job_settings_are_located(tmp_path: Path, job: str, path: str, line: int, fragment: str) -> None:
    f = manifest(tmp_path, job)
    with pytest.raises(ManifestError) as caught:
        load_manifest(f, environ={})
    assert caught.value.exit_code == ExitCode.MANIFEST
    rendered = "\n".join(i.render() for i in caught.value.issues)
    found = [
        i for i in caught.value.issues if i.path == path and fragment in i.message + " " + (i.hint or "")
    ]
    assert found, f"no issue at {path} with {fragment!r}:\n{rendered}"
    assert found[0].line == line, rendered
    assert found[0].hint and found[0].file == str(f)


def test_an_evaluation_of_a_job_is_refused(tmp_path: Path) -> None:
    f = manifest(tmp_path)
    f.write_text(
        f.read_text().replace("    service: agent\n    dataset", "    service: nightly\n    dataset")
    )
    with pytest.raises(ManifestError) as caught:
        load_manifest(f, environ={})
    assert any("has no endpoint to evaluate" in i.message for i in caught.value.issues)


def test_cron_schedule_arithmetic() -> None:
    at = dt.datetime(2026, 12, 5, 10, 59, 30, tzinfo=dt.UTC)
    assert cron.next_run("*/15 * * * *", at) == dt.datetime(2026, 12, 5, 11, 0, tzinfo=dt.UTC)
    assert cron.next_run("0 2 * * *", at) == dt.datetime(2026, 12, 6, 2, 0, tzinfo=dt.UTC)
    assert cron.next_run("30 9 * * MON-FRI", at) == dt.datetime(
        2026, 12, 7, 9, 30, tzinfo=dt.UTC
    )  # Sat → Mon
    assert cron.matches(
        "0 0 1 * 0", dt.datetime(2026, 12, 6, 0, 0, tzinfo=dt.UTC)
    )  # a Sunday (either day field)
    assert not cron.matches("0 0 1 * *", dt.datetime(2026, 12, 6, 0, 0, tzinfo=dt.UTC))


def test_each_trigger_type_becomes_its_rest_configuration(tmp_path: Path) -> None:
    from genaiops_cli.core import jobs

    event = JOB.replace(
        'trigger: {type: schedule, cron: "0 2 * * *", parallelism: 2, completions: 4, replica_timeout: 600}',
        "trigger:\n      type: event\n      retry_limit: 2\n      event:\n        max_executions: 5\n"
        "        rules: [{name: queue, type: azure-queue, metadata: {queueName: jobs}}]",
    )
    m = load_manifest(manifest(tmp_path, event), environ={})
    assert jobs.trigger_configuration(m.services["nightly"]) == {
        "triggerType": "Event",
        "replicaTimeout": 1800,
        "replicaRetryLimit": 2,
        "eventTriggerConfig": {
            "parallelism": 1,
            "replicaCompletionCount": 1,
            "scale": {
                "minExecutions": 0,
                "maxExecutions": 5,
                "pollingInterval": 30,
                "rules": [{"name": "queue", "type": "azure-queue", "metadata": {"queueName": "jobs"}}],
            },
        },
    }
