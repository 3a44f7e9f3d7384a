"""ARM deployments at resource-group scope through azure-mgmt-resource-deployments: resource group,
what-if, deployment with per-resource progress (deployment operations), outputs, and ARM's errors turned
into ProvisionError (exit 5) naming the code, the target and the failed resources. Nothing is retried:
a failed deployment is reported, and re-running `provision` is the user's decision."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from genaiops_cli.core.cloud import AzureTarget
from genaiops_cli.errors import ProvisionError
from genaiops_cli.providers.azure import clients
from genaiops_cli.providers.azure.arm_errors import arm_errors

OperationFn = Callable[[dict[str, Any]], None]


def _plain(model: Any) -> Any:
    if model is None:
        return None
    if hasattr(model, "as_dict"):
        return model.as_dict()
    return dict(model)


def ensure_resource_group(target: AzureTarget, name: str, location: str, tags: dict[str, str]) -> bool:
    """Create the group when missing; True when it was created. An existing group is left as it is."""
    rg = clients.resource_groups(target)
    with arm_errors(f"resource group {name}", ProvisionError):
        if rg.resource_groups.check_existence(name):
            return False
        rg.resource_groups.create_or_update(name, {"location": location, "tags": tags})
    return True


def resource_group_exists(target: AzureTarget, name: str) -> bool:
    with arm_errors(f"resource group {name}", ProvisionError):
        return bool(clients.resource_groups(target).resource_groups.check_existence(name))


def _body(template: dict[str, Any], parameters: dict[str, Any], mode: str = "Incremental") -> dict[str, Any]:
    return {"properties": {"mode": mode, "template": template, "parameters": parameters}}


def what_if(
    target: AzureTarget,
    resource_group: str,
    deployment: str,
    template: dict[str, Any],
    parameters: dict[str, Any],
    timeout: float = 600,
) -> dict[str, Any]:
    """The WhatIfOperationResult as plain JSON (status + properties.changes)."""
    from azure.core.exceptions import HttpResponseError

    client = clients.deployments(target)
    try:
        with arm_errors("what-if", ProvisionError):
            poller = client.deployments.begin_what_if(resource_group, deployment, _body(template, parameters))
            result = _wait(poller, timeout, "what-if")
    except ProvisionError as exc:
        cause = exc.__cause__
        if isinstance(cause, HttpResponseError):
            raise template_error("what-if", cause) from cause
        raise
    plain = _plain(result) or {}
    if "changes" in plain and "properties" not in plain:
        plain = {"status": plain.get("status", "Succeeded"), "properties": {"changes": plain["changes"]}}
    return plain


def _wait(poller: Any, timeout: float, action: str, on_tick: Callable[[], None] | None = None) -> Any:
    deadline = time.monotonic() + timeout
    while not poller.done():
        if time.monotonic() > deadline:
            raise ProvisionError(
                f"{action}: still running after {timeout:.0f}s",
                hint="the deployment keeps running in Azure; re-run `genaiops provision` to pick it up",
            )
        poller.wait(0.3)
        if on_tick:
            on_tick()
    if on_tick:
        on_tick()
    return poller.result()


def template_error(action: str, exc: Any) -> ProvisionError:
    """A synchronous ARM rejection (InvalidTemplate, missing parameter, ...) with its code, target, line."""
    error = getattr(exc, "error", None)
    code = getattr(error, "code", None) or f"HTTP{exc.status_code}"
    message = str(getattr(error, "message", None) or exc.message).strip()
    target = getattr(error, "target", None)
    details: dict[str, Any] = {"arm_code": code, "status": exc.status_code}
    if target:
        details["target"] = target
    info = getattr(error, "additional_info", None) or []
    for item in info:
        data = getattr(item, "info", None) or {}
        if isinstance(data, dict) and "lineNumber" in data:
            details["line"], details["column"] = data.get("lineNumber"), data.get("linePosition")
    where = f" (target {target})" if target else ""
    return ProvisionError(
        f"{action}: {code}{where}: {message}",
        hint="fix the template or its parameters; nothing was deployed",
        code="invalid_template" if "template" in str(code).lower() else "provision_rejected",
        details=details,
    )


def deploy(
    target: AzureTarget,
    resource_group: str,
    deployment: str,
    template: dict[str, Any],
    parameters: dict[str, Any],
    on_operation: OperationFn | None = None,
    timeout: float = 1800,
) -> dict[str, Any]:
    """Run the deployment; report each finished resource once through `on_operation`; return the
    DeploymentExtended as plain JSON. A failed deployment raises ProvisionError naming what failed."""
    from azure.core.exceptions import HttpResponseError

    client = clients.deployments(target)
    seen: set[str] = set()

    def tick() -> None:
        if on_operation is None:
            return
        for op in list_operations(target, resource_group, deployment):
            key = f"{op.get('operationId')}|{(op.get('properties') or {}).get('provisioningState')}"
            state = (op.get("properties") or {}).get("provisioningState")
            if key in seen or state not in ("Succeeded", "Failed", "Canceled"):
                continue
            seen.add(key)
            on_operation(op)

    try:
        with arm_errors(f"deployment {deployment}", ProvisionError):
            poller = client.deployments.begin_create_or_update(
                resource_group, deployment, _body(template, parameters)
            )
    except ProvisionError as exc:
        cause = exc.__cause__
        if isinstance(cause, HttpResponseError):
            raise template_error(f"deployment {deployment}", cause) from cause
        raise
    failure: Exception | None = None
    try:
        _wait(poller, timeout, f"deployment {deployment}", tick)
    except HttpResponseError as exc:  # the LRO ended Failed
        failure = exc
    final = get_deployment(target, resource_group, deployment) or {}
    state = (final.get("properties") or {}).get("provisioningState")
    if failure is None and state == "Succeeded":
        return final
    tick()
    raise deployment_failed(target, resource_group, deployment, final, failure)


def deployment_failed(
    target: AzureTarget, resource_group: str, deployment: str, final: dict[str, Any], failure: Any
) -> ProvisionError:
    failed = []
    for op in list_operations(target, resource_group, deployment):
        props = op.get("properties") or {}
        if props.get("provisioningState") != "Failed":
            continue
        error = ((props.get("statusMessage") or {}).get("error")) or {}
        resource = props.get("targetResource") or {}
        failed.append(
            {
                "resource": f"{resource.get('resourceType')}/{resource.get('resourceName')}",
                "id": resource.get("id"),
                "code": error.get("code"),
                "target": error.get("target") or resource.get("id"),
                "message": error.get("message"),
            }
        )
    error = (final.get("properties") or {}).get("error") or {}
    code = error.get("code") or getattr(getattr(failure, "error", None), "code", None) or "DeploymentFailed"
    if failed:
        first = failed[0]
        message = (
            f"deployment {deployment} failed: {first['resource']}: {first['code']}: {first['message']}"
            + (f" (and {len(failed) - 1} more)" if len(failed) > 1 else "")
        )
    else:
        detail = (error.get("details") or [{}])[0]
        message = (
            f"deployment {deployment} failed: {detail.get('code') or code}: "
            f"{detail.get('message') or error.get('message') or failure}"
        )
    return ProvisionError(
        message,
        hint="fix the failing resource (or its parameters) and run `genaiops provision` again; "
        "resources that succeeded are kept",
        code="deployment_failed",
        details={"arm_code": code, "target": error.get("target"), "failed_resources": failed},
    )


API_VERSION = "2026-06-01"  # azure-mgmt-resource-deployments' own, so both ways read the same resource


def get_deployment(target: AzureTarget, resource_group: str, deployment: str) -> dict[str, Any] | None:
    """The deployment as ARM's JSON, or None when there is none. Every command that opens an
    environment whose services want provisioned outputs (telemetry, connections) reads it, so it
    is one plain GET through azure-mgmt-core's ARM pipeline: azure-mgmt-resource-deployments (its
    client, models and serializer) is loaded only for what-if, deploying and listing operations."""
    from azure.core.exceptions import HttpResponseError, map_error
    from azure.core.rest import HttpRequest
    from azure.mgmt.core.exceptions import ARMErrorFormat

    path = (
        f"/subscriptions/{target.subscription_id}/resourcegroups/{resource_group}"
        f"/providers/Microsoft.Resources/deployments/{deployment}"
    )
    pipeline = _arm_pipeline(target)
    url = pipeline.format_url(path)
    request = HttpRequest(
        "GET", url, params={"api-version": API_VERSION}, headers={"Accept": "application/json"}
    )
    with arm_errors(f"deployment {deployment}", ProvisionError):
        response = pipeline.send_request(request)
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            map_error(response.status_code, response, _error_map())
            raise HttpResponseError(response=response, error_format=ARMErrorFormat)
        return dict(response.json())


def _error_map() -> dict[int, Any]:
    from azure.core.exceptions import ClientAuthenticationError, ResourceExistsError, ResourceNotModifiedError

    return {401: ClientAuthenticationError, 409: ResourceExistsError, 304: ResourceNotModifiedError}


@lru_cache(maxsize=8)
def _arm_pipeline(target: AzureTarget) -> Any:
    """An ARM pipeline like the SDK clients' (the shared credential, ARM's challenge-aware bearer
    policy, retries, the target's CA) with no generated client on top."""
    from azure.core.pipeline import policies
    from azure.mgmt.core import ARMPipelineClient
    from azure.mgmt.core.policies import ARMChallengeAuthenticationPolicy, ARMHttpLoggingPolicy

    clients.sign_in_ahead(target)
    return ARMPipelineClient(
        base_url=target.arm_endpoint,
        policies=[
            policies.RequestIdPolicy(),
            policies.HeadersPolicy(),
            policies.UserAgentPolicy(sdk_moniker="genaiops"),
            policies.RetryPolicy(),
            ARMChallengeAuthenticationPolicy(clients.credential(target), target.arm_scope),
            policies.ContentDecodePolicy(),
            ARMHttpLoggingPolicy(),
        ],
        connection_verify=target.verify,
    )


def list_operations(target: AzureTarget, resource_group: str, deployment: str) -> list[dict[str, Any]]:
    with arm_errors(f"operations of deployment {deployment}", ProvisionError):
        return [
            _plain(op)
            for op in clients.deployments(target).deployment_operations.list(resource_group, deployment)
        ]
