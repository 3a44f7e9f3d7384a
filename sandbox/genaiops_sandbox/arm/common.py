"""Small helpers shared by the ARM resource handlers."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import uuid
from dataclasses import dataclass, field
from typing import Any

from ..runtime_api import ManagedIdentity

SANDBOX_DNS_SUFFIX = "sandbox.genaiops.test"
OUTBOUND_IPS = ["127.0.0.1"]


@dataclass
class Response:
    status: int
    body: Any = None  # JSON-serialisable, or None for an empty body
    headers: dict[str, str] = field(default_factory=dict)


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def normalize_location(location: str) -> str:
    return location.replace(" ", "").lower()


def default_domain(resource_id: str, location: str) -> str:
    digest = hashlib.sha256(resource_id.lower().encode()).hexdigest()[:8]
    return f"{digest}.{normalize_location(location)}.{SANDBOX_DNS_SUFFIX}"


def random_suffix(length: int = 7) -> str:
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    # Azure's generated suffixes start with a letter-or-digit mix; keep the first char a letter
    # so the revision name stays a valid DNS label whatever follows.
    return secrets.choice(alphabet[:26]) + "".join(secrets.choice(alphabet) for _ in range(length - 1))


def stable_uuid(*parts: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "/".join(p.lower() for p in parts)))


def echo_identity(identity: dict[str, Any] | None, resource_id: str, tenant_id: str) -> dict[str, Any] | None:
    """Fill the server-side fields of a ManagedServiceIdentity the way ARM does."""
    if not identity:
        return None
    out = dict(identity)
    kind = str(out.get("type", "None"))
    if "systemassigned" in kind.lower().replace(" ", "").replace(",", ""):
        out["principalId"] = stable_uuid(resource_id, "principal")
        out["tenantId"] = tenant_id
    users = out.get("userAssignedIdentities")
    if isinstance(users, dict):
        out["userAssignedIdentities"] = {
            uid: {"principalId": stable_uuid(uid, "principal"), "clientId": stable_uuid(uid, "client")}
            for uid in users
        }
    return out


def system_data(client_id: str, created_at: str, modified_at: str) -> dict[str, Any]:
    return {
        "createdBy": client_id,
        "createdByType": "Application",
        "createdAt": created_at,
        "lastModifiedBy": client_id,
        "lastModifiedByType": "Application",
        "lastModifiedAt": modified_at,
    }


def deep_merge(base: Any, patch: Any) -> Any:
    """JSON merge-patch semantics for PATCH bodies (objects merge, everything else replaces)."""
    if isinstance(base, dict) and isinstance(patch, dict):
        out = dict(base)
        for key, value in patch.items():
            out[key] = deep_merge(base.get(key), value) if key in base else value
        return out
    return patch


def drop_nulls(value: Any) -> Any:
    """Azure never echoes a property as null: what a client sent as null (az sends `env: null`)
    comes back absent, and clients iterate whatever is present."""
    if isinstance(value, dict):
        return {k: drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [drop_nulls(v) for v in value if v is not None]
    return value


def workload_identity(envelope: dict[str, Any], tenant_id: str) -> ManagedIdentity | None:
    """The system-assigned identity a resource's containers get tokens for (None without one)."""
    identity = envelope.get("identity") or {}
    if "systemassigned" not in str(identity.get("type", "")).lower().replace(" ", ""):
        return None
    return ManagedIdentity(identity["principalId"], envelope["id"], tenant_id)
