"""What Container Apps jobs do besides their ARM resource: executions started on schedule, and the
execution logs `az containerapp job logs show` reads.

Logs follow the az CLI's path (azure-cli-extensions, containerapp): list the execution's replicas
(`GET …/jobs/{job}/executions/{e}/replicas`, api-version 2023-11-02-preview), ask the job for a
log-stream token (`POST …/jobs/{job}/getAuthToken`, same version), then read
`{host}/subscriptions/{sub}/resourceGroups/{rg}/jobs/{job}/executions/{e}/replicas/{r}/containers/{c}/logstream`
(no /providers/: Azure serves it from the environment's log-stream host, the stand-in from its ARM
host) with that token, not an ARM token, as bearer. Lines are `{"TimeStamp": …, "Log": …}` with
`output=json`, `<time> <line>` with `output=text`. Neither preview route is in the stable specs the
stand-in validates against; docs/sandbox-runtime-differences.md says so."""

from __future__ import annotations

import datetime as dt
import json
import re
import secrets
import threading
import time
from typing import Any

from .common import Response, now_iso
from .errors import ArmError, not_found
from .job_schedule import due

PREVIEW_NAMESPACE = "microsoft.app/jobs-preview"
PREVIEW_API_VERSIONS = {"2023-11-02-preview"}  # the version `az containerapp job logs show` sends
TOKEN_SECONDS = 3600
LOGSTREAM_RE = re.compile(
    r"^/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)/jobs/(?P<name>[^/]+)"
    r"/executions/(?P<execution>[^/]+)/replicas/(?P<replica>[^/]+)/containers/(?P<container>[^/]+)"
    r"/logstream/?$",
    re.IGNORECASE,
)
MAX_TAIL = 300  # as the az CLI's --tail


class JobRunsMixin:
    store: Any
    runtime: Any
    base_url: str
    subscription_id: str

    def add_job_run_routes(self, r: Any, app_ns: str) -> None:
        j = app_ns + r"/jobs/(?P<name>[^/]+)"
        r("POST", j + "/getauthtoken", PREVIEW_NAMESPACE, self.job_auth_token)
        r("GET", j + r"/executions/(?P<execution>[^/]+)/replicas", PREVIEW_NAMESPACE, self.list_job_replicas)

    # schedule ---------------------------------------------------------------------------------
    def schedule_tick(self, now: dt.datetime) -> list[str]:
        """Start an execution of every scheduled job due in the minute `now`, once per minute.
        Returns the jobs started (for the admin route and the tests)."""
        minute = now.astimezone(dt.UTC).replace(second=0, microsecond=0)
        fired: dict[str, str] = self.__dict__.setdefault("_schedule_fired", {})
        started = []
        for record in self.store.list(f"/subscriptions/{self.subscription_id}", "Microsoft.App/jobs"):
            config = record["spec"].get("properties", {}).get("configuration") or {}
            cron = (config.get("scheduleTriggerConfig") or {}).get("cronExpression") or ""
            if config.get("triggerType") != "Schedule" or not due(cron, minute):
                continue
            stamp = minute.isoformat()
            if fired.get(record["id"]) == stamp:
                continue
            fired[record["id"]] = stamp
            rg, name = record["id"].split("/")[4], record["body"]["name"]
            try:  # the same path as Jobs_Start, so a scheduled run is what a manual one is
                self.start_job(body=None, query={"api-version": "2026-07-01"}, rg=rg, name=name)  # type: ignore[attr-defined]
                started.append(name)
            except ArmError as exc:
                import logging

                logging.getLogger("genaiops.sandbox.jobs").warning(
                    "scheduled run of %s: %s", name, exc.message
                )
        return started

    # logs -------------------------------------------------------------------------------------
    def _job_execution(self, rg: str, name: str, execution: str) -> tuple[dict[str, Any], dict[str, Any]]:
        record = self.require_job(rg, name)  # type: ignore[attr-defined]
        found = record["executions"].get(execution.lower())
        if found is None:
            raise not_found("Microsoft.App/jobs/executions", execution)
        return record, found

    def job_auth_token(self, body: Any, query: dict[str, str], rg: str, name: str) -> Response:
        record = self.require_job(rg, name)  # type: ignore[attr-defined]
        token = secrets.token_urlsafe(32)
        tokens: dict[str, tuple[str, float]] = self.__dict__.setdefault("_log_tokens", {})
        with self.__dict__.setdefault("_log_tokens_lock", threading.Lock()):
            now = time.time()
            for old in [t for t, (_, exp) in tokens.items() if exp < now]:
                del tokens[old]
            tokens[token] = (record["id"].lower(), now + TOKEN_SECONDS)
        expires = dt.datetime.fromtimestamp(time.time() + TOKEN_SECONDS, dt.UTC).isoformat()
        return Response(
            200,
            {
                "id": f"{record['id']}/getAuthToken",
                "name": record["body"]["name"],
                "type": "Microsoft.App/jobs/getAuthToken",
                "location": record["envelope"]["location"],
                "properties": {"token": token, "expires": expires},
            },
        )

    def list_job_replicas(
        self, body: Any, query: dict[str, str], rg: str, name: str, execution: str
    ) -> Response:
        record, found = self._job_execution(rg, name, execution)
        containers = [c.get("name") for c in (found.get("template") or {}).get("containers") or []]
        replicas = self.runtime.job_execution_replicas(found["name"]) if self.runtime is not None else []
        value = []
        for replica in replicas:
            rid = f"{record['id']}/executions/{found['name']}/replicas/{replica['name']}"
            state = "Running" if replica["running"] else "NotRunning"
            value.append(
                {
                    "id": rid,
                    "name": replica["name"],
                    "type": "Microsoft.App/jobs/executions/replicas",
                    "properties": {
                        "createdTime": replica["created"] or now_iso(),
                        "runningState": state,
                        "containers": [
                            {
                                "name": c,
                                "ready": replica["running"],
                                "started": True,
                                "restartCount": 0,
                                "runningState": "Running" if replica["running"] else "Terminated",
                                "logStreamEndpoint": self._logstream_url(
                                    record, found["name"], replica["name"], c
                                ),
                            }
                            for c in containers
                        ],
                    },
                }
            )
        return Response(200, {"value": value})

    def job_event_stream(self, record: dict[str, Any]) -> str:
        """The job's `eventStreamEndpoint` (read-only): where its log streams are served."""
        rg, name = record["id"].split("/")[4], record["body"]["name"]
        scope = f"/subscriptions/{self.subscription_id}/resourceGroups/{rg}"
        return f"{self.base_url}{scope}/jobs/{name}/eventstream"

    def _logstream_url(self, record: dict[str, Any], execution: str, replica: str, container: str) -> str:
        rg, name = record["id"].split("/")[4], record["body"]["name"]
        return (
            f"{self.base_url}/subscriptions/{self.subscription_id}/resourceGroups/{rg}/jobs/{name}"
            f"/executions/{execution}/replicas/{replica}/containers/{container}/logstream"
        )

    def job_logstream(self, path: str, query: dict[str, str], authorization: str) -> Response:
        """One container's console output; `authorization` must carry a token from getAuthToken for
        this job (an ARM token is refused, as Azure's log-stream host does)."""
        m = LOGSTREAM_RE.match(path)
        assert m is not None
        record = self.require_job(m["rg"], m["name"])  # type: ignore[attr-defined]
        scheme, _, token = authorization.partition(" ")
        issued = (
            self.__dict__.get("_log_tokens", {}).get(token.strip()) if scheme.lower() == "bearer" else None
        )
        if issued is None or issued[0] != record["id"].lower() or issued[1] < time.time():
            raise ArmError(401, "Unauthorized", "A log-stream token from the job's getAuthToken is required.")
        _, found = self._job_execution(m["rg"], m["name"], m["execution"])
        try:
            tail = max(0, min(MAX_TAIL, int(query.get("tailLines") or MAX_TAIL)))
        except ValueError:
            raise ArmError(400, "BadRequest", "tailLines must be a number from 0 to 300.") from None
        lines = self.runtime.job_replica_logs(found["name"], m["replica"], tail) if self.runtime else None
        if lines is None:
            raise ArmError(404, "ReplicaNotFound", f"Replica '{m['replica']}' was not found.")
        if query.get("output", "json") == "text":
            text = "".join(f"{stamp} {line}\n" for stamp, line in lines)
        else:
            text = "".join(json.dumps({"TimeStamp": stamp, "Log": line}) + "\n" for stamp, line in lines)
        return Response(200, text.encode(), {"Content-Type": "text/plain; charset=utf-8"})
