"""ARM what-if as pure data: compare the resources a template would PUT with what exists now and
produce Azure's WhatIfOperationResult (Microsoft.Resources 2026-06-01 `WhatIfChange` /
`WhatIfPropertyChange`). The stand-in's what-if route serves it; the CLI only summarises it.

Rules, following ARM's documented behaviour where our data allows:
- a desired resource that doesn't exist -> Create; exists and every compared property matches -> NoChange;
  otherwise Modify with a property-level `delta`.
- a current resource absent from the template -> Ignore (Incremental mode) or Delete (Complete mode).
- only properties the template sets are compared: a property present only in the current resource is
  taken as server-populated (read-only) and ignored, except under `tags`, which the user owns entirely.
- read-only noise is never compared: ids, names, types, apiVersion, etag, systemData, provisioningState.
- a desired value still written as an expression (`"[reference(...)]"`: unknown until deployment, or a
  secret from listKeys) is reported as NoEffect and alone never makes a resource Modify."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

CHANGE_TYPES = ("Create", "Delete", "Modify", "NoChange", "Ignore", "Deploy", "Unsupported")
TOP_LEVEL_NOISE = {"id", "name", "type", "apiversion", "etag", "systemdata", "managedby", "dependson"}
ANYWHERE_NOISE = {"provisioningstate"}


def is_unevaluated(value: Any) -> bool:
    return (
        isinstance(value, str) and len(value) > 1 and value[0] == "[" and value[-1] == "]" and value[1] != "["
    )


def _same_scalar(before: Any, after: Any, key: str) -> bool:
    if isinstance(before, str) and isinstance(after, str):
        if key.lower() == "location":
            return before.replace(" ", "").lower() == after.replace(" ", "").lower()
        if before.lower().startswith("/subscriptions/") and after.lower().startswith("/subscriptions/"):
            return before.lower() == after.lower()  # ARM ids are case-insensitive
    if isinstance(before, bool) or isinstance(after, bool):
        return type(before) is type(after) and before == after
    return before == after


def property_changes(
    before: Mapping[str, Any],
    after: Mapping[str, Any],
    prefix: str = "",
    top: bool = True,
    owned: bool = False,
) -> list[dict[str, Any]]:
    """The WhatIfPropertyChange list turning `before` into `after` (objects compared key by key)."""
    out: list[dict[str, Any]] = []
    for key, new in after.items():
        if (top and key.lower() in TOP_LEVEL_NOISE) or key.lower() in ANYWHERE_NOISE:
            continue
        path = f"{prefix}.{key}" if prefix else key
        in_tags = owned or (top and key == "tags")
        if is_unevaluated(new):
            if key not in before or before[key] != new:
                out.append(
                    {
                        "path": path,
                        "propertyChangeType": "NoEffect",
                        "after": new,
                        **({"before": before[key]} if key in before else {}),
                    }
                )
            continue
        if key not in before or (before[key] is None and new is not None):
            if new is None:
                continue
            out.append({"path": path, "propertyChangeType": "Create", "after": new})
            continue
        old = before[key]
        out.extend(_value_changes(old, new, path, key, in_tags))
    if owned:  # only user-owned maps (tags) can lose keys; elsewhere extra keys are server-populated
        for key, old in before.items():
            if key not in after:
                out.append(
                    {
                        "path": f"{prefix}.{key}" if prefix else key,
                        "propertyChangeType": "Delete",
                        "before": old,
                    }
                )
    return out


def _value_changes(old: Any, new: Any, path: str, key: str, owned: bool) -> list[dict[str, Any]]:
    if isinstance(old, dict) and isinstance(new, dict):
        return property_changes(old, new, path, top=False, owned=owned)
    if isinstance(old, list) and isinstance(new, list):
        children = _array_changes(old, new)
        return [{"path": path, "propertyChangeType": "Array", "children": children}] if children else []
    if _same_scalar(old, new, key):
        return []
    return [{"path": path, "propertyChangeType": "Modify", "before": old, "after": new}]


def _array_changes(old: list[Any], new: list[Any]) -> list[dict[str, Any]]:
    children: list[dict[str, Any]] = []
    for i in range(max(len(old), len(new))):
        if i >= len(old):
            children.append({"path": str(i), "propertyChangeType": "Create", "after": new[i]})
        elif i >= len(new):
            children.append({"path": str(i), "propertyChangeType": "Delete", "before": old[i]})
        elif isinstance(old[i], dict) and isinstance(new[i], dict):
            inner = property_changes(old[i], new[i], "", top=False)
            if any(c["propertyChangeType"] != "NoEffect" for c in inner):
                children.append({"path": str(i), "propertyChangeType": "Modify", "children": inner})
        elif is_unevaluated(new[i]):
            if old[i] != new[i]:
                children.append(
                    {"path": str(i), "propertyChangeType": "NoEffect", "before": old[i], "after": new[i]}
                )
        elif not _same_scalar(old[i], new[i], ""):
            children.append(
                {"path": str(i), "propertyChangeType": "Modify", "before": old[i], "after": new[i]}
            )
    return children


def _effective(delta: Iterable[dict[str, Any]]) -> bool:
    return any(c["propertyChangeType"] != "NoEffect" for c in delta)


def what_if_changes(
    current: Mapping[str, Mapping[str, Any]],
    desired: Iterable[Mapping[str, Any]],
    *,
    mode: str = "Incremental",
) -> list[dict[str, Any]]:
    """`current`: resource id -> GET body of everything in scope; `desired`: the bodies the template would PUT
    (each with `id`, `type`, `name`, `apiVersion`)."""
    if mode not in ("Incremental", "Complete"):
        raise ValueError(f"mode must be Incremental or Complete, not {mode!r}")
    existing = {rid.lower(): body for rid, body in current.items()}
    seen: set[str] = set()
    changes: list[dict[str, Any]] = []
    for after in desired:
        rid = str(after["id"])
        seen.add(rid.lower())
        before = existing.get(rid.lower())
        if before is None:
            changes.append({"resourceId": rid, "changeType": "Create", "after": dict(after)})
            continue
        delta = property_changes(before, after)
        if _effective(delta):
            changes.append(
                {
                    "resourceId": rid,
                    "changeType": "Modify",
                    "before": dict(before),
                    "after": dict(after),
                    "delta": delta,
                }
            )
        else:
            changes.append(
                {"resourceId": rid, "changeType": "NoChange", "before": dict(before), "after": dict(after)}
            )
    for key, before in existing.items():
        if key in seen:
            continue
        rid = str(before.get("id") or key)
        kind = "Delete" if mode == "Complete" else "Ignore"
        changes.append({"resourceId": rid, "changeType": kind, "before": dict(before)})
    changes.sort(key=lambda c: c["resourceId"].lower())
    return changes


def what_if_result(
    current: Mapping[str, Mapping[str, Any]],
    desired: Iterable[Mapping[str, Any]],
    *,
    mode: str = "Incremental",
) -> dict[str, Any]:
    """The WhatIfOperationResult body (status + properties.changes)."""
    return {"status": "Succeeded", "properties": {"changes": what_if_changes(current, desired, mode=mode)}}
