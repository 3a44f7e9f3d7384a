"""The small JSONPath subset manifests use to point at an answer: `$`, `.key`, `['key']`, `["key"]`,
`[n]` (negative n counts from the end). Enough for response bodies; no filters or wildcards."""

from __future__ import annotations

import re
from typing import Any

_STEP = re.compile(r"""\.([A-Za-z_$][\w$-]*)|\[\s*(-?\d+)\s*\]|\[\s*'([^']*)'\s*\]|\[\s*"([^"]*)"\s*\]""")


class JsonPathError(ValueError):
    pass


class Missing(LookupError):
    """The path does not exist in the document."""


def parse(path: str) -> list[str | int]:
    if not path.startswith("$"):
        raise JsonPathError(f"JSONPath {path!r} must start with '$'")
    steps: list[str | int] = []
    pos = 1
    while pos < len(path):
        m = _STEP.match(path, pos)
        if not m:
            raise JsonPathError(f"JSONPath {path!r}: cannot read from {path[pos:]!r}")
        key, index, sq, dq = m.groups()
        steps.append(
            int(index) if index is not None else (key if key is not None else (sq if sq is not None else dq))
        )
        pos = m.end()
    return steps


def extract(document: Any, path: str) -> Any:
    """The value at `path`; raises Missing when a step does not exist."""
    value = document
    for step in parse(path):
        if isinstance(step, int):
            if not isinstance(value, list) or not -len(value) <= step < len(value):
                raise Missing(f"{path}: no index {step}")
            value = value[step]
        else:
            if not isinstance(value, dict) or step not in value:
                raise Missing(f"{path}: no key {step!r}")
            value = value[step]
    return value
