"""Microsoft.App/jobs: job resources and their executions (each runs a container to completion)."""

from __future__ import annotations

from typing import Any

from ..runtime_api import JobExecutionSpec
from .apps import container_specs
from .common import OUTBOUND_IPS, Response, deep_merge, drop_nulls, now_iso, random_suffix, workload_identity
from .errors import ArmError, invalid_parameter, not_found
from .names import TRIGGER_TYPES, canonical, check_job_name, normalize_probes

JOB_TYPE = "Microsoft.App/jobs"


class JobsMixin:
    store: Any
    runtime: Any
    runtime_error: str | None
    subscription_id: str

    def add_job_routes(self, r: Any, app_ns: str, sub: str) -> None:
        j = app_ns + r"/jobs/(?P<name>[^/]+)"
        r("PUT", j, "microsoft.app", self.put_job)
        r("PATCH", j, "microsoft.app", self.patch_job)
        r("GET", j, "microsoft.app", self.get_job)
        r("DELETE", j, "microsoft.app", self.delete_job)
        r("GET", app_ns + "/jobs", "microsoft.app", self.list_jobs)
        r("GET", sub + r"/providers/microsoft\.app/jobs", "microsoft.app", self.list_jobs)
        r("POST", j + "/start", "microsoft.app", self.start_job)
        r("GET", j + "/executions", "microsoft.app", self.list_executions)
        r("GET", j + "/executions/(?P<execution>[^/]+)", "microsoft.app", self.get_execution)
        r("POST", j + "/executions/(?P<execution>[^/]+)/stop", "microsoft.app", self.stop_execution)

    def job_id(self, rg: str, name: str) -> str:
        return f"{self.rg_id(rg)}/providers/Microsoft.App/jobs/{name}"  # type: ignore[attr-defined]

    def require_job(self, rg: str, name: str) -> dict[str, Any]:
        record = self.store.get(self.job_id(rg, name))
        if record is None:
            raise not_found(JOB_TYPE, name, rg)
        return record

    def put_job(self, body: Any, query: dict[str, str], rg: str, name: str) -> Response:
        with self.store.lock:
            existing = self.store.get(self.job_id(rg, name))
            if existing is None:
                check_job_name(name)
            return self._write_job(rg, name, body or {}, existing, query["api-version"], patch=False)

    def patch_job(self, body: Any, query: dict[str, str], rg: str, name: str) -> Response:
        with self.store.lock:
            existing = self.require_job(rg, name)
            return self._write_job(
                rg, name, deep_merge(existing["spec"], body or {}), existing, query["api-version"], patch=True
            )

    def _write_job(
        self,
        rg: str,
        name: str,
        body: dict[str, Any],
        existing: dict[str, Any] | None,
        api_version: str,
        patch: bool,
    ) -> Response:
        rid = existing["id"] if existing else self.job_id(rg, name)
        name = existing["body"]["name"] if existing else name
        body = drop_nulls(body)
        props = body.get("properties") or {}
        env_id = props.get("environmentId")
        if not env_id or self.store.get(env_id) is None:
            raise ArmError(
                404, "ManagedEnvironmentNotFound", f"Managed environment '{env_id}' was not found."
            )
        config = props.get("configuration") or {}
        if "triggerType" in config:
            config["triggerType"] = canonical(config["triggerType"], TRIGGER_TYPES)
        normalize_probes(props.get("template") or {})
        if not config.get("triggerType") or config.get("replicaTimeout") is None:
            raise invalid_parameter("configuration", "triggerType and replicaTimeout are required")
        if not (props.get("template") or {}).get("containers"):
            raise invalid_parameter("template.containers", "at least one container is required")
        envelope = self.tracked_body(rid, name, JOB_TYPE, body, existing)  # type: ignore[attr-defined]
        spec = {k: v for k, v in body.items() if k not in ("id", "name", "type", "systemData")}
        record = {
            "id": rid,
            "type": JOB_TYPE,
            "spec": spec,
            "envelope": envelope,
            "body": {"name": name},
            "executions": existing["executions"] if existing else {},
        }
        self.store.put(rid, record)
        op = self.start_operation(
            "Microsoft.App",
            body["location"],
            "done",
            rid,
            api_version,  # type: ignore[attr-defined]
            result="resource",
        )
        self.finish_operation(op, "Succeeded")  # type: ignore[attr-defined]
        rendered = self.render_jobs(record)
        if patch:
            return Response(202, None, self.lro_headers(op, location=True))  # type: ignore[attr-defined]
        if existing is None:
            return Response(201, rendered, self.lro_headers(op, async_op=True))  # type: ignore[attr-defined]
        return Response(200, rendered)

    def render_jobs(self, record: dict[str, Any]) -> dict[str, Any]:
        out = dict(record["envelope"])
        props = dict(record["spec"].get("properties") or {})
        config = dict(props.get("configuration") or {})
        config["secrets"] = (
            [{k: v for k, v in s.items() if k != "value"} for s in config.get("secrets") or []]
            if config.get("secrets")
            else config.get("secrets")
        )
        if config.get("secrets") is None:
            config.pop("secrets", None)
        props["configuration"] = config
        props.update(
            {
                "provisioningState": "Succeeded",
                "runningState": "Ready",
                "outboundIpAddresses": list(OUTBOUND_IPS),
                "eventStreamEndpoint": self.job_event_stream(record),  # type: ignore[attr-defined]
            }
        )
        out["properties"] = props
        return out

    def get_job(self, body: Any, query: dict[str, str], rg: str, name: str) -> Response:
        return Response(200, self.render_jobs(self.require_job(rg, name)))

    def list_jobs(self, body: Any, query: dict[str, str], rg: str | None = None) -> Response:
        prefix = self.rg_id(rg) if rg else self.sub_id()  # type: ignore[attr-defined]
        return Response(200, {"value": [self.render_jobs(r) for r in self.store.list(prefix, JOB_TYPE)]})

    def delete_job(self, body: Any, query: dict[str, str], rg: str, name: str) -> Response:
        with self.store.lock:
            record = self.store.get(self.job_id(rg, name))
            if record is None:
                return Response(204, None)
            if self.runtime is not None:
                for execution in record["executions"]:
                    try:
                        self.runtime.stop_job_execution(execution)
                    except Exception:
                        pass
            self.store.delete(record["id"])
            op = self.finished_operation(
                "Microsoft.App", record["envelope"]["location"], record["id"], query["api-version"]
            )  # type: ignore[attr-defined]
        return Response(202, None, self.lro_headers(op, location=True))  # type: ignore[attr-defined]

    # executions -----------------------------------------------------------------------------------
    def start_job(self, body: Any, query: dict[str, str], rg: str, name: str) -> Response:
        with self.store.lock:
            record = self.require_job(rg, name)
            if self.runtime is None:
                raise ArmError(
                    500,
                    "SandboxRuntimeUnavailable",
                    "The sandbox has no container runtime, so it cannot "
                    f"start job '{name}': {self.runtime_error or 'not configured'}.",
                )
            # Jobs_Start may carry a JobExecutionTemplate overriding the job's containers for this run
            override = body if isinstance(body, dict) and body.get("containers") else None
            template = override or record["spec"]["properties"]["template"]
            execution = f"{record['body']['name']}-{random_suffix()}".lower()
            timeout = int(record["spec"]["properties"]["configuration"].get("replicaTimeout") or 1800)
            exec_template = {"containers": template.get("containers") or []}
            if template.get("initContainers"):
                exec_template["initContainers"] = template["initContainers"]
            record["executions"][execution] = {
                "name": execution,
                "startTime": now_iso(),
                "template": exec_template,
            }
            self.store.put(record["id"], record)
            self.runtime.start_job_execution(
                JobExecutionSpec(
                    job=record["body"]["name"],
                    execution=execution,
                    resource_group=record["id"].split("/")[4],
                    containers=container_specs(exec_template),
                    timeout_seconds=timeout,
                    **replica_settings(record["spec"]["properties"]["configuration"]),
                    identity=workload_identity(record["envelope"], self.tenant_id),  # type: ignore[attr-defined]
                )
            )
            result = {"name": execution, "id": f"{record['id']}/executions/{execution}"}
            op = self.start_operation(
                "Microsoft.App",
                record["envelope"]["location"],
                "done",  # type: ignore[attr-defined]
                record["id"],
                query["api-version"],
                result=result,
            )
            self.finish_operation(op, "Succeeded")  # type: ignore[attr-defined]
        # Jobs_Start: 202 + Location; the final GET on Location returns the JobExecutionBase.
        return Response(202, None, self.lro_headers(op, location=True))  # type: ignore[attr-defined]

    def render_execution(self, record: dict[str, Any], execution: dict[str, Any]) -> dict[str, Any]:
        status = self.runtime.job_execution_status(execution["name"]) if self.runtime is not None else None
        props: dict[str, Any] = {
            "status": status.status if status else "Unknown",
            "startTime": (status.start_time if status and status.start_time else execution["startTime"]),
            "template": execution["template"],
        }
        if status and status.end_time:
            props["endTime"] = status.end_time
        if status and status.reason:
            props["reason"] = status.reason
        return {
            "id": f"{record['id']}/executions/{execution['name']}",
            "name": execution["name"],
            "type": "Microsoft.App/jobs/executions",
            "properties": props,
        }

    def list_executions(self, body: Any, query: dict[str, str], rg: str, name: str) -> Response:
        record = self.require_job(rg, name)
        ordered = sorted(record["executions"].values(), key=lambda e: e["startTime"], reverse=True)
        return Response(200, {"value": [self.render_execution(record, e) for e in ordered]})

    def _require_execution(self, record: dict[str, Any], execution: str) -> dict[str, Any]:
        found = record["executions"].get(execution.lower())
        if found is None:
            raise not_found("Microsoft.App/jobs/executions", execution)
        return found

    def get_execution(self, body: Any, query: dict[str, str], rg: str, name: str, execution: str) -> Response:
        record = self.require_job(rg, name)
        return Response(200, self.render_execution(record, self._require_execution(record, execution)))

    def stop_execution(
        self, body: Any, query: dict[str, str], rg: str, name: str, execution: str
    ) -> Response:
        with self.store.lock:
            record = self.require_job(rg, name)
            found = self._require_execution(record, execution)
            if self.runtime is not None:
                self.runtime.stop_job_execution(found["name"])
            op = self.finished_operation(
                "Microsoft.App", record["envelope"]["location"], record["id"], query["api-version"]
            )  # type: ignore[attr-defined]
        return Response(202, None, self.lro_headers(op, location=True))  # type: ignore[attr-defined]


def replica_settings(config: dict[str, Any]) -> dict[str, int]:
    """parallelism / replicaCompletionCount of the job's trigger configuration (both default to 1,
    as the spec says) and replicaRetryLimit (default 0)."""
    trigger = (
        config.get("manualTriggerConfig")
        or config.get("scheduleTriggerConfig")
        or config.get("eventTriggerConfig")
        or {}
    )
    return {
        "parallelism": max(1, int(trigger.get("parallelism") or 1)),
        "replica_completion_count": max(1, int(trigger.get("replicaCompletionCount") or 1)),
        "replica_retry_limit": max(0, int(config.get("replicaRetryLimit") or 0)),
    }
