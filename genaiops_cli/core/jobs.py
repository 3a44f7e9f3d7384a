"""Container Apps job request bodies and naming, as pure functions over the REST wire shape
(Microsoft.App/jobs, 2026-07-01). A job has no revisions: one PUT replaces its template and trigger,
and the next execution runs what was written. genaiops still names each written configuration — the
*key*, a hash of everything that defines it in its environment — so that plan, deploy, promote,
history and rollback speak of a job's releases the way they speak of an app's revisions.

Which key is live, which was live before (and its image, for rollback) are kept in the job's tags."""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

from genaiops_cli.core.containerapps import (
    TAG_LIVE,
    TAG_PREVIOUS,
    TAG_SERVICE,
    Placement,
    RegistryAuth,
    app_name,
    identity_block,
)

if TYPE_CHECKING:
    from genaiops_cli.core.manifest.model import Service

TAG_PREVIOUS_IMAGE = "genaiops-previous-image"  # what a rollback writes back
TRIGGER_TYPES = {"manual": "Manual", "schedule": "Schedule", "event": "Event"}
TERMINAL = ("Succeeded", "Failed", "Stopped", "Degraded")  # JobExecution.status values that end a run

job_name = app_name  # the same `<project>-<service>` naming and 32-character limit as apps


def trigger_configuration(service: Service) -> dict[str, Any]:
    """`configuration` minus registries: trigger type, its config, timeout and retries."""
    trigger = service.trigger
    assert trigger is not None  # the manifest requires a trigger for job services
    counts = {"parallelism": trigger.parallelism, "replicaCompletionCount": trigger.completions}
    config: dict[str, Any] = {
        "triggerType": TRIGGER_TYPES[trigger.type],
        "replicaTimeout": trigger.replica_timeout,
        "replicaRetryLimit": trigger.retry_limit,
    }
    if trigger.type == "manual":
        config["manualTriggerConfig"] = counts
    elif trigger.type == "schedule":
        config["scheduleTriggerConfig"] = {"cronExpression": trigger.cron, **counts}
    else:
        assert trigger.event is not None
        scale = trigger.event
        config["eventTriggerConfig"] = {
            **counts,
            "scale": {
                "minExecutions": scale.min_executions,
                "maxExecutions": scale.max_executions,
                "pollingInterval": scale.polling_interval,
                "rules": [dict(r) for r in scale.rules],
            },
        }
    return config


def job_template(service_name: str, service: Service, image: str) -> dict[str, Any]:
    container = {
        "name": service_name,
        "image": image,
        "resources": {"cpu": float(service.resources.cpu), "memory": service.resources.memory},
        "env": [{"name": k, "value": v} for k, v in sorted(service.env.items())],
    }
    return {"containers": [container]}


def job_key(configuration: dict[str, Any], template: dict[str, Any], scope: str) -> str:
    """The deterministic name of one configuration of the job in one environment."""
    canonical = json.dumps(
        {"scope": scope.lower(), "configuration": configuration, "template": template}, sort_keys=True
    )
    return "j" + hashlib.sha256(canonical.encode()).hexdigest()[:10]


def planned(
    project: str, service_name: str, service: Service, image: str, where: Placement
) -> tuple[str, dict]:
    """(key, the configuration and template) `image` gets as this job in this environment."""
    configuration = trigger_configuration(service)
    template = job_template(service_name, service, image)
    key = f"{job_name(project, service_name)}--{job_key(configuration, template, where.environment_id)}"
    return key, {"configuration": configuration, "template": template}


def job_body(
    parts: dict[str, Any], where: Placement, registry: RegistryAuth, tags: dict[str, str]
) -> dict[str, Any]:
    """The complete PUT body (a PUT replaces the job: nothing of an older configuration survives)."""
    body: dict[str, Any] = {
        "location": where.location,
        "tags": tags,
        "identity": identity_block(registry),
        "properties": {
            "environmentId": where.environment_id,
            "configuration": {
                **parts["configuration"],
                "registries": [{"server": registry.server, "identity": registry.identity}],
            },
            "template": parts["template"],
        },
    }
    if where.extended_location:
        body["extendedLocation"] = where.extended_location
    return body


def job_image(job: dict[str, Any]) -> str | None:
    containers = ((job.get("properties") or {}).get("template") or {}).get("containers") or [{}]
    return containers[0].get("image")


def live_tags(service_name: str, key: str, old: dict[str, str], old_image: str | None) -> dict[str, str]:
    """Tags after `key` became live: the key it replaced (and its image) are kept for rollback."""
    tags = {**old, TAG_SERVICE: service_name, TAG_LIVE: key}
    if old.get(TAG_LIVE) and old.get(TAG_LIVE) != key:
        tags[TAG_PREVIOUS] = old[TAG_LIVE]
        tags[TAG_PREVIOUS_IMAGE] = old_image or ""
    return tags


def execution_row(execution: dict[str, Any]) -> dict[str, Any]:
    """What `genaiops job status` shows of one JobExecution."""
    props = execution.get("properties") or {}
    return {
        "name": execution.get("name"),
        "status": props.get("status"),
        "start": props.get("startTime"),
        "end": props.get("endTime"),
        "reason": props.get("reason"),
    }
