"""Masking of secret-looking values before anything is shown. Pure: no I/O, no SDKs."""

from __future__ import annotations

import re
from typing import Any

MASK = "***"

_SECRET_KEY = re.compile(
    r"(secret|password|passwd|token|api[_-]?key|access[_-]?key|connection[_-]?string|sas)", re.I
)
_SECRET_VALUE = [
    re.compile(r"[?&]sig=", re.I),  # SAS URLs
    re.compile(r"^eyJ[\w-]+\.[\w-]+\.[\w-]+$"),  # JWTs
    re.compile(r"AccountKey=|SharedAccessKey=", re.I),  # storage / service bus connection strings
    re.compile(r"^(sk|ghp|gho|xox[abp])[-_][A-Za-z0-9_-]{16,}$"),  # well-known token prefixes
]


def looks_secret(key: str | None, value: Any) -> bool:
    if key is not None and _SECRET_KEY.search(key):
        return value not in (None, "", False)
    return isinstance(value, str) and any(p.search(value) for p in _SECRET_VALUE)


def redact(value: Any, key: str | None = None) -> Any:
    """A copy of `value` with every secret-looking leaf replaced by MASK."""
    if isinstance(value, dict):
        return {k: redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v, key) for v in value]
    if looks_secret(key, value):
        return MASK
    return value
