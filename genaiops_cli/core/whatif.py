"""Reading ARM what-if results (Microsoft.Resources 2026-06-01 `WhatIfOperationResult`): counts per
change type and one row per changed property, for `provision --what-if` and `plan --infra`. Azure (or
the stand-in) computes the result; this module only summarises it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

CHANGE_TYPES = ("Create", "Delete", "Modify", "NoChange", "Ignore", "Deploy", "Unsupported")


def summarize(result: Mapping[str, Any]) -> dict[str, int]:
    """Counts per change type, every type present (zero when absent), for tables and JSON alike."""
    counts = {kind: 0 for kind in CHANGE_TYPES}
    for change in (result.get("properties") or {}).get("changes") or []:
        counts[change["changeType"]] = counts.get(change["changeType"], 0) + 1
    return counts


def flatten_delta(delta: Iterable[Mapping[str, Any]], prefix: str = "") -> list[dict[str, Any]]:
    """One row per leaf property change (`path`, `change`, `before`, `after`) for a readable table."""
    rows: list[dict[str, Any]] = []
    for change in delta:
        path = (
            f"{prefix}[{change['path']}]"
            if prefix and change["path"].isdigit()
            else (f"{prefix}.{change['path']}" if prefix else change["path"])
        )
        children = change.get("children")
        if children:
            rows.extend(flatten_delta(children, path))
        else:
            rows.append(
                {
                    "path": path,
                    "change": change["propertyChangeType"],
                    "before": change.get("before"),
                    "after": change.get("after"),
                }
            )
    return rows


def has_changes(result: Mapping[str, Any]) -> bool:
    counts = summarize(result)
    return any(counts[k] for k in ("Create", "Delete", "Modify", "Deploy"))
