"""Planning (copy expansion, names, ids, dependsOn graph), deployment and what-if evaluation."""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from typing import Any

from .engine import (
    OUTPUT_TYPE_NAMES,
    PARAM_TYPES,
    RESOURCE_BODY_KEYS,
    VALIDATION_FAILED,
    ApplyResource,
    DeploymentContext,
    DeploymentResult,
    Evaluator,
    GetResource,
    ListKeys,
    PlannedResource,
    ResourceRequest,
    Template,
    _iso_duration,
    _now,
    _strings,
    normalize_parameters,
)
from .errors import Deferred, ExpressionError, TemplateError
from .expressions import evaluate, is_expression, parse, type_name, walk_calls
from .jsonpos import Path

RUNTIME_CALLS = ("reference", "listkeys")


def _fail(ev: Evaluator, what: str, path: Path, message: str, target: str | None = None) -> TemplateError:
    line, col = ev.where(path)
    return TemplateError(
        VALIDATION_FAILED.format(
            f"The template {what} at line '{line}' and column '{col}' is not valid: {message}"
        ),
        line=line,
        column=col,
        target=target,
    )


def prepare(
    template: dict[str, Any] | str,
    parameters: Mapping[str, Any] | None,
    context: DeploymentContext,
    *,
    mode: str = "deploy",
    get_resource: GetResource | None = None,
    list_keys: ListKeys | None = None,
) -> Evaluator:
    """Parse and validate: parameters, every variable, resource names/ids and the dependsOn graph."""
    parsed = Template(template)
    ev = Evaluator(
        parsed.body,
        parsed.positions,
        normalize_parameters(parameters),
        context,
        mode=mode,
        get_resource=get_resource,
        list_keys=list_keys,
    )
    ev.load_parameters()
    for name, (_raw, path) in ev._declared_variables().items():
        try:
            ev.variable(name)
        except ExpressionError as exc:
            line, col = ev.where(path)
            raise TemplateError(
                VALIDATION_FAILED.format(exc.message), line=line, column=col, target=name
            ) from None
    _plan(ev)
    return ev


def _plan(ev: Evaluator) -> None:
    ev.forbid_runtime = "resource name"
    try:
        for i, definition in enumerate(ev.template.get("resources") or []):
            _expand(ev, definition, ("resources", i), parent=None)
    finally:
        ev.forbid_runtime = None
    for p in ev.planned:
        key = p.resource_id.lower()
        if key in ev.by_id:
            raise _fail(
                ev,
                f"resource '{p.name}'",
                p.path,
                f"The resource '{p.resource_id}' is defined multiple times in a template. Please see "
                f"https://aka.ms/arm-syntax-resources for usage details.",
                target=p.resource_id,
            )
        ev.by_id[key] = p
    for p in ev.planned:
        _dependencies(ev, p)
    _check_cycles(ev)


def _expand(ev: Evaluator, definition: dict[str, Any], path: Path, parent: PlannedResource | None) -> None:
    copy = definition.get("copy")
    if copy is not None:
        try:
            count = int(ev.value(copy.get("count")))
        except ExpressionError as exc:
            raise _fail(ev, f"resource '{definition.get('name')}'", path + ("copy",), exc.message) from None
        loop = str(copy.get("name"))
        for i in range(count):
            ev.copy_indexes = {loop: i, None: i}
            _expand_one(ev, definition, path, parent, loop, i)
        ev.copy_indexes = {}
    else:
        _expand_one(ev, definition, path, parent, None, None)


def _expand_one(
    ev: Evaluator,
    d: dict[str, Any],
    path: Path,
    parent: PlannedResource | None,
    loop: str | None,
    index: int | None,
) -> None:
    label = f"resource '{d.get('name')}'"
    try:
        if "condition" in d:
            condition = ev.value(d["condition"])
            if not isinstance(condition, bool):
                raise ExpressionError(
                    f"The condition must evaluate to a boolean, got '{type_name(condition)}'."
                )
            if not condition:
                return
        rtype, name, api = (str(ev.value(d.get(k, ""))) for k in ("type", "name", "apiVersion"))
        scope = ev.value(d["scope"]) if "scope" in d else None
    except ExpressionError as exc:
        raise _fail(ev, label, path, exc.message) from None
    for key, val in (("type", rtype), ("name", name), ("apiVersion", api)):
        if not val:
            raise _fail(ev, label, path, f"The resource property '{key}' is missing or empty.")
    if parent is not None:
        if "/" not in rtype or rtype.count("/") == 0 or not rtype.split("/")[0].count("."):
            rtype = f"{parent.type}/{rtype}"
        if not name.lower().startswith(parent.name.lower() + "/"):
            name = f"{parent.name}/{name}"
    segments = rtype.split("/")[1:]
    names = name.split("/")
    if len(segments) != len(names):
        raise _fail(
            ev,
            f"resource '{name}'",
            path,
            f"The template resource '{name}' for type '{rtype}' has incorrect segment lengths. A nested "
            f"resource type must have identical number of segments as its resource name. A root resource "
            f"type must have segment length one greater than its resource name. Please see "
            f"https://aka.ms/arm-syntax-resources for usage details.",
            target=name,
        )
    if scope:
        base = scope if str(scope).startswith("/") else f"{ev.context.resource_group_id}/providers/{scope}"
        rid = ev.extension_id(base, rtype, names)
    else:
        rid = ev.build_resource_id("resourceId", [rtype, *names], scope="resourceGroup")
    planned = PlannedResource(
        index=len(ev.planned),
        path=path,
        definition=d,
        type=rtype,
        name=name,
        api_version=api,
        resource_id=rid,
        scope=str(scope) if scope else None,
        copy_name=loop,
        copy_index=index,
        parent_id=parent.resource_id if parent else None,
    )
    if parent is not None:
        planned.depends_on.add(parent.resource_id.lower())
    ev.planned.append(planned)
    for j, child in enumerate(d.get("resources") or []):
        saved = dict(ev.copy_indexes)
        _expand(ev, child, path + ("resources", j), parent=planned)
        ev.copy_indexes = saved


def _dependencies(ev: Evaluator, p: PlannedResource) -> None:
    ev.copy_indexes = {p.copy_name: p.copy_index, None: p.copy_index} if p.copy_name else {}
    ev.forbid_runtime = "dependsOn"
    try:
        for i, raw in enumerate(p.definition.get("dependsOn") or []):
            try:
                ref = str(ev.value(raw))
            except ExpressionError as exc:
                raise _fail(ev, f"resource '{p.name}'", p.path + ("dependsOn", i), exc.message) from None
            matched = _match_dependency(ev, ref)
            if matched is None:
                raise _fail(
                    ev,
                    f"resource '{p.name}'",
                    p.path + ("dependsOn", i),
                    f"The resource '{ref}' is not defined in the template. Please see "
                    f"https://aka.ms/arm-syntax for usage details.",
                    target=p.resource_id,
                )
            p.depends_on.update(matched)
        # Implicit dependencies: reference()/listKeys() of a resource deployed by this template.
        body = {k: v for k, v in p.definition.items() if k not in ("resources", "dependsOn")}
        for _path, text in _strings(body, p.path):
            if not is_expression(text):
                continue
            for call in walk_calls(parse(text)):
                if call.name.lower() in RUNTIME_CALLS and call.args:
                    try:
                        target = ev.resolve_target(str(evaluate(call.args[0], ev)))
                    except (ExpressionError, Deferred):
                        continue
                    if target.lower() in ev.by_id:
                        p.depends_on.add(target.lower())
    finally:
        ev.forbid_runtime = None
        ev.copy_indexes = {}
    p.depends_on.discard(p.resource_id.lower())


def _match_dependency(ev: Evaluator, ref: str) -> set[str] | None:
    low = ref.lower()
    if low in ev.by_id:
        return {low}
    found = {
        p.resource_id.lower()
        for p in ev.planned
        if p.name.lower() == low or (p.copy_name or "").lower() == low or f"{p.type}/{p.name}".lower() == low
    }
    if found:
        return found
    # A dependency on a resource skipped by its condition is dropped, as ARM does.
    names = {str(d.get("name")).lower() for d in ev.template.get("resources") or [] if isinstance(d, dict)}
    if any(is_expression(n) for n in names) or low in names:
        return set()
    return None


def _check_cycles(ev: Evaluator) -> None:
    state: dict[str, int] = {}

    def visit(key: str, trail: list[str]) -> None:
        if state.get(key) == 2:
            return
        if state.get(key) == 1:
            cycle = trail[trail.index(key) :] + [key]
            raise TemplateError(
                VALIDATION_FAILED.format(
                    "Circular dependency detected on resource: '"
                    + "' -> '".join(ev.by_id[k].resource_id for k in cycle)
                    + "'. Please see https://aka.ms/arm-template/#resources for usage details."
                )
            )
        state[key] = 1
        for dep in sorted(ev.by_id[key].depends_on):
            visit(dep, trail + [key])
        state[key] = 2

    for p in ev.planned:
        visit(p.resource_id.lower(), [])


def order(ev: Evaluator) -> list[PlannedResource]:
    """A topological order that keeps template order among resources that are ready together."""
    done: set[str] = set()
    out: list[PlannedResource] = []
    pending = list(ev.planned)
    while pending:
        ready = next(p for p in pending if p.depends_on <= done)
        out.append(ready)
        done.add(ready.resource_id.lower())
        pending.remove(ready)
    return out


def resource_body(ev: Evaluator, p: PlannedResource, *, what_if: bool = False) -> dict[str, Any]:
    ev.copy_indexes = {p.copy_name: p.copy_index, None: p.copy_index} if p.copy_name else {}
    try:
        body: dict[str, Any] = {}
        for key in RESOURCE_BODY_KEYS:
            if key in p.definition:
                raw = (
                    _expand_property_copies(ev, p.definition[key])
                    if key == "properties"
                    else p.definition[key]
                )
                body[key] = ev.value_or_text(raw) if what_if else ev.value(raw)
        return body
    finally:
        ev.copy_indexes = {}


def _expand_property_copies(ev: Evaluator, raw: Any) -> Any:
    """Property iteration: `"copy": [{"name": "x", "count": n, "input": {...}}]` inside properties."""
    if isinstance(raw, dict):
        out = {k: _expand_property_copies(ev, v) for k, v in raw.items() if k != "copy"}
        copies = raw.get("copy")
        if isinstance(copies, list) and all(
            isinstance(c, dict) and {"name", "count", "input"} <= set(c) for c in copies
        ):
            for spec in copies:
                count = int(ev.value(spec["count"]))
                items = []
                for i in range(count):
                    ev.copy_indexes[spec["name"]] = i
                    items.append(ev.value(spec["input"]))
                ev.copy_indexes.pop(spec["name"], None)
                out[spec["name"]] = items
        elif "copy" in raw:
            out["copy"] = raw["copy"]
        return out
    if isinstance(raw, list):
        return [_expand_property_copies(ev, v) for v in raw]
    return raw


# ------------------------------------------------------------------------------------------------
def deploy(
    template: dict[str, Any] | str,
    parameters: Mapping[str, Any] | None,
    context: DeploymentContext,
    apply_resource: ApplyResource,
    *,
    get_resource: GetResource | None = None,
    list_keys: ListKeys | None = None,
    on_operation: Any = None,
) -> DeploymentResult:
    """Validate, then PUT each resource through `apply_resource` in dependsOn order, then evaluate outputs.

    Validation problems raise TemplateError (ARM answers those synchronously with 400). Failures while
    deploying come back as a Failed DeploymentResult with ARM's DeploymentFailed error and per-resource
    operations, like a real deployment."""
    started, start_clock = _now(), time.monotonic()
    ev = prepare(template, parameters, context, mode="deploy", get_resource=get_resource, list_keys=list_keys)
    operations: list[dict[str, Any]] = []
    failed: set[str] = set()
    errors: list[dict[str, Any]] = []
    for p in order(ev):
        if p.depends_on & failed:
            failed.add(p.resource_id.lower())  # never attempted, like ARM: no operation for it
            continue
        op_clock, op_started = time.monotonic(), _now()
        error: dict[str, Any] | None = None
        status_code = "OK"
        try:
            body = resource_body(ev, p)
            request = ResourceRequest(
                resource_id=p.resource_id,
                type=p.type,
                name=p.name,
                api_version=p.api_version,
                body=body,
                depends_on=tuple(sorted(ev.by_id[d].resource_id for d in p.depends_on)),
                scope=_scope_id(ev, p),
            )
            result = apply_resource(request)
            ev.deployed[p.resource_id.lower()] = result
            status_code = "Created"
        except ExpressionError as exc:
            line, col = ev.where(p.path)
            error = {
                "code": "InvalidTemplate",
                "target": p.resource_id,
                "message": f"Unable to process template language expressions for resource '{p.resource_id}' at "
                f"line '{line}' and column '{col}'. '{exc.message}'",
            }
            status_code = "BadRequest"
        except Exception as exc:
            code = getattr(exc, "code", None)
            if code is None:
                raise
            error = {"code": str(code), "message": str(getattr(exc, "message", exc)), "target": p.resource_id}
            status_code = _status_name(getattr(exc, "status", 400))
        op = _operation(context, p, op_started, time.monotonic() - op_clock, status_code, error)
        operations.append(op)
        if on_operation:
            on_operation(op)
        if error:
            failed.add(p.resource_id.lower())
            errors.append({"code": error["code"], "target": error["target"], "message": error["message"]})
    outputs: dict[str, dict[str, Any]] = {}
    if not errors:
        try:
            outputs = _outputs(ev)
        except TemplateError as exc:
            errors.append(exc.to_arm())
    error = None
    if errors:
        error = {
            "code": "DeploymentFailed",
            "target": context.deployment_id,
            "message": "At least one resource deployment operation failed. Please list deployment operations "
            "for details. Please see https://aka.ms/arm-deployment-operations for usage details.",
            "details": errors,
        }
    return DeploymentResult(
        provisioning_state="Failed" if errors else "Succeeded",
        outputs=outputs,
        operations=operations,
        output_resources=[{"id": ev.by_id[k].resource_id} for k in ev.deployed],
        error=error,
        parameters=_echo_parameters(ev),
        timestamp=started,
        duration=_iso_duration(time.monotonic() - start_clock),
        dependencies=_dependency_list(ev),
    )


def _scope_id(ev: Evaluator, p: PlannedResource) -> str | None:
    if not p.scope:
        return None
    return p.scope if p.scope.startswith("/") else f"{ev.context.resource_group_id}/providers/{p.scope}"


def _status_name(status: int) -> str:
    return {
        400: "BadRequest",
        401: "Unauthorized",
        403: "Forbidden",
        404: "NotFound",
        409: "Conflict",
        429: "TooManyRequests",
        500: "InternalServerError",
    }.get(int(status), str(status))


def _operation(
    context: DeploymentContext,
    p: PlannedResource,
    started: str,
    seconds: float,
    status_code: str,
    error: dict[str, Any] | None,
) -> dict[str, Any]:
    op_id = uuid.uuid5(
        uuid.NAMESPACE_URL, context.deployment_id.lower() + "|" + p.resource_id.lower()
    ).hex.upper()[:16]
    props: dict[str, Any] = {
        "provisioningOperation": "Create",
        "provisioningState": "Failed" if error else "Succeeded",
        "timestamp": started,
        "duration": _iso_duration(seconds),
        "serviceRequestId": str(uuid.uuid4()),
        "statusCode": status_code,
        "targetResource": {
            "id": p.resource_id,
            "resourceType": p.type,
            "resourceName": p.name,
            "apiVersion": p.api_version,
        },
    }
    if error:
        props["statusMessage"] = {"status": "Failed", "error": error}
    return {"id": f"{context.deployment_id}/operations/{op_id}", "operationId": op_id, "properties": props}


def _outputs(ev: Evaluator) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for name, spec in (ev.template.get("outputs") or {}).items():
        path: Path = ("outputs", name)
        line, col = ev.where(path)
        otype = str(spec.get("type", "")).lower()
        if otype not in PARAM_TYPES:
            raise TemplateError(
                f"The template output '{name}' at line '{line}' and column '{col}' has an invalid "
                f"type '{spec.get('type')}'.",
                line=line,
                column=col,
                target=name,
            )
        try:
            if "condition" in spec and not ev.value(spec["condition"]):
                continue
            value = ev.value(spec.get("value"))
        except ExpressionError as exc:
            raise TemplateError(
                f"Unable to evaluate template outputs: '{name}'. Please see error details and "
                f"deployment operations. Please see https://aka.ms/arm-common-errors for usage "
                f"details.",
                code="DeploymentOutputEvaluationFailed",
                target=name,
                details=[
                    {
                        "code": "DeploymentOutputEvaluationFailed",
                        "target": name,
                        "message": f"The template output '{name}' is not valid: {exc.message}.",
                    }
                ],
                line=line,
                column=col,
            ) from None
        if _contains_secret(value, ev.secrets):
            # ARM would return it; the stand-in refuses, so a template that leaks a key fails in tests first.
            raise TemplateError(
                f"The template output '{name}' at line '{line}' and column '{col}' contains a value "
                f"returned by a list*() function (a secret). Outputs must not carry secrets.",
                code="InvalidTemplate",
                target=name,
                line=line,
                column=col,
            )
        if otype.startswith("secure"):
            out[name] = {"type": OUTPUT_TYPE_NAMES[otype]}  # ARM never returns secure outputs
            continue
        if not isinstance(value, PARAM_TYPES[otype]) or (otype == "int" and isinstance(value, bool)):
            raise TemplateError(
                f"The template output '{name}' is not valid: the value type '{type_name(value)}' "
                f"does not match the output type '{spec.get('type')}'.",
                target=name,
                code="DeploymentOutputEvaluationFailed",
                line=line,
                column=col,
            )
        out[name] = {"type": OUTPUT_TYPE_NAMES[otype], "value": value}
    return out


def _contains_secret(value: Any, secrets: list[str]) -> bool:
    if isinstance(value, str):
        return any(s in value for s in secrets)
    if isinstance(value, dict):
        return any(_contains_secret(v, secrets) for v in value.values())
    if isinstance(value, list):
        return any(_contains_secret(v, secrets) for v in value)
    return False


def _echo_parameters(ev: Evaluator) -> dict[str, dict[str, Any]]:
    declared = ev.template.get("parameters") or {}
    out: dict[str, dict[str, Any]] = {}
    for name, value in ev.params.items():
        ptype = str(declared[name].get("type", "")).lower()
        entry: dict[str, Any] = {"type": OUTPUT_TYPE_NAMES[ptype]}
        if not ptype.startswith("secure"):
            entry["value"] = value
        out[name] = entry
    return out


def _dependency_list(ev: Evaluator) -> list[dict[str, Any]]:
    out = []
    for p in ev.planned:
        if p.depends_on:
            out.append(
                {
                    "id": p.resource_id,
                    "resourceType": p.type,
                    "resourceName": p.name,
                    "dependsOn": [
                        {
                            "id": ev.by_id[d].resource_id,
                            "resourceType": ev.by_id[d].type,
                            "resourceName": ev.by_id[d].name,
                        }
                        for d in sorted(p.depends_on)
                    ],
                }
            )
    return out


# ------------------------------------------------------------------------------------------------
def desired_resources(
    template: dict[str, Any] | str,
    parameters: Mapping[str, Any] | None,
    context: DeploymentContext,
    current: Mapping[str, dict[str, Any]],
) -> list[dict[str, Any]]:
    """What the template would PUT, for what-if: reference() reads the current state of existing resources;
    anything not knowable before deployment (new resources' runtime values, every listKeys secret) stays as
    its expression text, which core.whatif treats as NoEffect — as ARM's what-if does."""
    lowered = {k.lower(): v for k, v in current.items()}

    def get_resource(rid: str, _api: str | None) -> dict[str, Any] | None:
        return lowered.get(rid.lower())

    ev = prepare(template, parameters, context, mode="whatif", get_resource=get_resource)
    for rid, body in lowered.items():
        if rid in ev.by_id:
            ev.deployed[rid] = body
    out = []
    for p in order(ev):
        body = resource_body(ev, p, what_if=True)
        out.append(
            {
                "id": p.resource_id,
                "name": p.name.split("/")[-1] if p.scope else p.name,
                "type": p.type,
                "apiVersion": p.api_version,
                **body,
            }
        )
    return out
