"""Azure Container Apps jobs over azure-mgmt-appcontainers (`jobs`, `jobs_executions`), in the REST
wire shape (plain dicts), plus the execution logs the way `az containerapp job logs show` reads them.

Logs are not in the stable ARM API. The az CLI (azure-cli-extensions, containerapp) reads them in three
steps, which this module repeats: list the execution's replicas (`GET …/jobs/{job}/executions/{e}/
replicas`, api-version 2023-11-02-preview), get a log-stream token for the job (`POST …/jobs/{job}/
getAuthToken`, same version), then `GET {host of the job's eventStreamEndpoint}/subscriptions/{sub}/
resourceGroups/{rg}/jobs/{job}/executions/{e}/replicas/{r}/containers/{c}/logstream` with that token
(not the ARM token) as bearer. The first two go through the SDK client's own pipeline (same sign-in,
retries, CA); the stream through a plain HTTPS client, so the ARM token never reaches another host."""

from __future__ import annotations

import json
from typing import Any

from genaiops_cli.errors import DeployError
from genaiops_cli.providers.azure.arm_errors import arm_errors, wait_lro
from genaiops_cli.providers.azure.containerapps import ContainerAppsArm, _as_dict

LOG_STREAM_API_VERSION = "2023-11-02-preview"  # what `az containerapp job logs show` sends


class ContainerAppJobsArm(ContainerAppsArm):
    """core.ports.ContainerAppJobsApi over the SDK, for one resource group (environments are read
    as for apps)."""

    def _missing_is_none(self, action: str, call: Any) -> dict[str, Any] | None:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            with arm_errors(action, DeployError):
                return _as_dict(call())
        except DeployError as exc:
            if isinstance(exc.__cause__, ResourceNotFoundError):
                return None
            raise

    def get_job(self, name: str) -> dict[str, Any] | None:
        return self._missing_is_none(
            f"read job {name}", lambda: self._client.jobs.get(self.resource_group, name)
        )

    def put_job(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        action = f"write job {name}"
        with arm_errors(action, DeployError):
            poller = self._client.jobs.begin_create_or_update(self.resource_group, name, body)
            return _as_dict(wait_lro(poller, self.lro_timeout, action, DeployError))

    def patch_job(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        action = f"update job {name}"
        with arm_errors(action, DeployError):
            poller = self._client.jobs.begin_update(self.resource_group, name, body)
            result = wait_lro(poller, self.lro_timeout, action, DeployError)
        return _as_dict(result) if result else (self.get_job(name) or {})

    def delete_job(self, name: str) -> None:
        action = f"delete job {name}"
        with arm_errors(action, DeployError):
            poller = self._client.jobs.begin_delete(self.resource_group, name)
            wait_lro(poller, self.lro_timeout, action, DeployError)

    def start(self, name: str) -> str:
        action = f"start job {name}"
        with arm_errors(action, DeployError, hint="check the job exists (`genaiops deploy`)"):
            poller = self._client.jobs.begin_start(self.resource_group, name)
            started = _as_dict(wait_lro(poller, self.lro_timeout, action, DeployError))
        execution = started.get("name")
        if not execution:
            raise DeployError(f"{action}: Azure did not name the execution it started")
        return str(execution)

    def executions(self, name: str) -> list[dict[str, Any]]:
        with arm_errors(f"list executions of job {name}", DeployError):
            found = [_as_dict(e) for e in self._client.jobs_executions.list(self.resource_group, name)]
        return sorted(
            found, key=lambda e: str((e.get("properties") or {}).get("startTime") or ""), reverse=True
        )

    def execution(self, name: str, execution: str) -> dict[str, Any] | None:
        return self._missing_is_none(
            f"read execution {execution} of job {name}",
            lambda: self._client.job_execution(self.resource_group, name, execution),
        )

    def stop_execution(self, name: str, execution: str) -> None:
        action = f"stop execution {execution} of job {name}"
        with arm_errors(action, DeployError):
            poller = self._client.jobs.begin_stop_execution(self.resource_group, name, execution)
            wait_lro(poller, self.lro_timeout, action, DeployError)

    # -- logs ----------------------------------------------------------------------------------
    def _preview(self, method: str, suffix: str) -> dict[str, Any]:
        from azure.core.rest import HttpRequest

        url = (
            f"{self.target.arm_endpoint.rstrip('/')}/subscriptions/{self.target.subscription_id}"
            f"/resourceGroups/{self.resource_group}/providers/Microsoft.App/jobs/{suffix}"
            f"?api-version={LOG_STREAM_API_VERSION}"
        )
        response = self._client.send_request(HttpRequest(method, url))
        response.raise_for_status()
        return dict(response.json() or {})

    def logs(self, name: str, execution: str, tail: int) -> list[dict[str, Any]]:
        from genaiops_cli.providers.http import http_client

        action = f"read the logs of execution {execution} of job {name}"
        with arm_errors(action, DeployError, hint="the execution may not have started a replica yet"):
            job = self.get_job(name) or {}
            replicas = self._preview("GET", f"{name}/executions/{execution}/replicas").get("value") or []
            token = (self._preview("POST", f"{name}/getAuthToken").get("properties") or {}).get("token")
        stream = str((job.get("properties") or {}).get("eventStreamEndpoint") or "")
        if not replicas:
            return []
        if not token or "/subscriptions/" not in stream:
            raise DeployError(f"{action}: the job offers no log stream", code="no_log_stream")
        base = stream[: stream.index("/subscriptions/")]
        out = []
        with http_client(self.target.resolve, self.target.ca_bundle, 60) as client:
            for replica in replicas:
                for container in (replica.get("properties") or {}).get("containers") or []:
                    url = (
                        f"{base}/subscriptions/{self.target.subscription_id}/resourceGroups/"
                        f"{self.resource_group}/jobs/{name}/executions/{execution}/replicas/"
                        f"{replica['name']}/containers/{container['name']}/logstream"
                    )
                    params = {"follow": "false", "output": "json", "tailLines": str(tail)}
                    response = client.get(url, params=params, headers={"Authorization": f"Bearer {token}"})
                    if response.status_code != 200:
                        raise DeployError(f"{action}: the log stream answered {response.status_code}")
                    lines = [_line(raw) for raw in response.text.splitlines() if raw.strip()]
                    out.append({"replica": replica["name"], "container": container["name"], "lines": lines})
        return out


def _line(raw: str) -> dict[str, Any]:
    """One log-stream line: `{"TimeStamp": …, "Log": …}` (output=json), or plain text."""
    try:
        entry = json.loads(raw)
    except json.JSONDecodeError:
        return {"time": None, "text": raw}
    if isinstance(entry, dict):
        return {"time": entry.get("TimeStamp"), "text": str(entry.get("Log", ""))}
    return {"time": None, "text": raw}
