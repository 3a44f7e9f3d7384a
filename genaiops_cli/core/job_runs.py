"""`genaiops job run|status|logs`: executions of a `host: containerapp-job` service. Start one, wait
for its end (the command's exit code is the execution's result), list executions, read their logs.

Exit codes: a Succeeded execution is 0; Failed, Degraded or Stopped is 7 (`job_failed`, with the
reason and the last log lines); a wait that runs out is 7 (`job_timeout`: the execution keeps
running and the message names it)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from genaiops_cli.core import jobs
from genaiops_cli.errors import DeployError, UsageError

if TYPE_CHECKING:
    from genaiops_cli.core.environment import Environment
    from genaiops_cli.core.ports import ContainerAppJobsApi

POLL_SECONDS = 1.0  # longest pause between reads of a running execution
FAILURE_LOG_LINES = 20


def job_host(env: Environment, service: str) -> Any:
    """The job host of `service`, or a usage error naming the job services there are."""
    env.select([service])
    if env.host_kind(service) != "containerapp-job":
        jobs_here = [s for s in env.services if env.host_kind(s) == "containerapp-job"]
        raise UsageError(
            f"{service!r} is not a job (host: {env.host_kind(service)})",
            hint=f"job services in {env.name}: {', '.join(jobs_here) or 'none (host: containerapp-job)'}",
        )
    return env.host(service)


def _api(host: Any) -> ContainerAppJobsApi:
    return host.api  # type: ignore[no-any-return]


def start(env: Environment, service: str) -> dict[str, Any]:
    host = job_host(env, service)
    name = host.job_name(service)
    host.require_job(service)
    execution = _api(host).start(name)
    return {"environment": env.name, "service": service, "job": name, "execution": execution}


def wait(
    env: Environment, service: str, execution: str, timeout: float, on_status: Any = None
) -> dict[str, Any]:
    """Until the execution ends; returns its row. Raises DeployError when it did not succeed."""
    host = job_host(env, service)
    api, name = _api(host), host.job_name(service)
    deadline, delay, seen = time.monotonic() + timeout, 0.2, None
    while True:
        found = api.execution(name, execution)
        row = jobs.execution_row(found or {"name": execution, "properties": {"status": "Unknown"}})
        if row["status"] != seen and on_status is not None:
            on_status(row)
        seen = row["status"]
        if row["status"] in jobs.TERMINAL:
            break
        if time.monotonic() > deadline:
            raise DeployError(
                f"execution {execution} of job {name} is still {row['status']} after {timeout:.0f} s",
                hint=f"it keeps running; `genaiops job status -e {env.name} {service} {execution}` "
                "shows how it ends",
                code="job_timeout",
                details={"execution": row},
            )
        time.sleep(delay)
        delay = min(delay * 2, POLL_SECONDS)
    if row["status"] != "Succeeded":
        raise _failed(env, service, host, row)
    return row


def _failed(env: Environment, service: str, host: Any, row: dict[str, Any]) -> DeployError:
    try:
        tail = [
            line["text"]
            for part in _api(host).logs(host.job_name(service), row["name"], FAILURE_LOG_LINES)
            for line in part["lines"]
        ][-FAILURE_LOG_LINES:]
    except DeployError:
        tail = []
    reason = (row.get("reason") or "").splitlines()[0] if row.get("reason") else None
    return DeployError(
        f"execution {row['name']} of job {host.job_name(service)} ended {row['status']}"
        + (f": {reason}" if reason else ""),
        hint=f"`genaiops job logs -e {env.name} {service} {row['name']}` shows its output",
        code="job_failed",
        details={"execution": row, "log_tail": tail},
    )


def status(env: Environment, service: str, execution: str | None) -> dict[str, Any]:
    host = job_host(env, service)
    api, name = _api(host), host.job_name(service)
    job = host.require_job(service)
    config = (job.get("properties") or {}).get("configuration") or {}
    out: dict[str, Any] = {
        "environment": env.name,
        "service": service,
        "job": name,
        "trigger": config.get("triggerType"),
        "schedule": (config.get("scheduleTriggerConfig") or {}).get("cronExpression"),
        "image": jobs.job_image(job),
    }
    if execution:
        found = api.execution(name, execution)
        if found is None:
            raise UsageError(
                f"job {name} has no execution {execution!r}", hint="`genaiops job status` lists them"
            )
        out["executions"] = [jobs.execution_row(found)]
    else:
        out["executions"] = [jobs.execution_row(e) for e in api.executions(name)]
    return out


def logs(env: Environment, service: str, execution: str | None, tail: int) -> dict[str, Any]:
    """The console output of an execution (default: the newest) per replica and container."""
    host = job_host(env, service)
    api, name = _api(host), host.job_name(service)
    if execution is None:
        found = api.executions(name)
        if not found:
            raise UsageError(
                f"job {name} has no executions yet",
                hint=f"start one with `genaiops job run -e {env.name} {service}`",
            )
        execution = str(found[0]["name"])
    elif api.execution(name, execution) is None:
        raise UsageError(
            f"job {name} has no execution {execution!r}", hint="`genaiops job status` lists them"
        )
    return {
        "environment": env.name,
        "service": service,
        "job": name,
        "execution": execution,
        "replicas": api.logs(name, execution, tail),
    }
