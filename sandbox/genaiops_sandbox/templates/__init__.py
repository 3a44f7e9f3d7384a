"""The stand-in's ARM template language engine (languageVersion 1.0 JSON, resource-group scope).

Entry points for the ARM server's Microsoft.Resources/deployments routes:
- `deploy(template, parameters, context, apply_resource, *, get_resource, list_keys, on_operation)`
- `validate(template, parameters, context)` -> the planned resources, or TemplateError
- `what_if(template, parameters, context, current, mode)` -> a WhatIfOperationResult body
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .deploy import deploy, desired_resources, order, prepare
from .engine import (
    DeploymentContext,
    DeploymentResult,
    ResourceApplyError,
    ResourceRequest,
    Template,
    normalize_parameters,
)
from .errors import TemplateError
from .functions import FUNCTIONS
from .whatif import what_if_result


def validate(
    template: dict[str, Any] | str, parameters: Mapping[str, Any] | None, context: DeploymentContext
) -> list[dict[str, str]]:
    """Everything ARM checks before deploying; returns the resources in deployment order (id, type, name)."""
    ev = prepare(template, parameters, context, mode="whatif")
    return [
        {"id": p.resource_id, "resourceType": p.type, "resourceName": p.name, "apiVersion": p.api_version}
        for p in order(ev)
    ]


def what_if(
    template: dict[str, Any] | str,
    parameters: Mapping[str, Any] | None,
    context: DeploymentContext,
    current: Mapping[str, dict[str, Any]],
    *,
    mode: str = "Incremental",
) -> dict[str, Any]:
    """`current`: every resource now in the resource group (id -> GET body). Raises TemplateError when the
    template is invalid (ARM answers what-if of an invalid template with the same InvalidTemplate error)."""
    desired = desired_resources(template, parameters, context, current)
    scope = context.resource_group_id + "/"
    in_scope = {k: v for k, v in current.items() if k.lower().startswith(scope.lower())}
    return what_if_result(in_scope, desired, mode=mode)


SUPPORTED_FUNCTIONS = tuple(sorted(FUNCTIONS))

__all__ = [
    "DeploymentContext",
    "DeploymentResult",
    "ResourceApplyError",
    "ResourceRequest",
    "SUPPORTED_FUNCTIONS",
    "Template",
    "TemplateError",
    "deploy",
    "normalize_parameters",
    "validate",
    "what_if",
]
