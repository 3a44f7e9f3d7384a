"""What Azure's authorization provider refuses when a template PUTs a role assignment, before the
stand-in stores it as a plain resource: a name that is not a GUID (`InvalidRoleAssignmentId`, 400) and a
second assignment of the same role to the same principal at the same scope under another name
(`RoleAssignmentExists`, 409) — the classic failure of a template whose `guid()` seed changed.

Assignments are read back when a revision reads a Key Vault secret (secrets.py)."""

from __future__ import annotations

import re
from typing import Any

from .errors import ArmError, bad_request

TYPE = "microsoft.authorization/roleassignments"
GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)


def check(store: Any, resource_id: str, name: str, body: dict[str, Any]) -> None:
    if not GUID.match(name):
        raise bad_request(
            "InvalidRoleAssignmentId",
            f"The role assignment ID '{name}' is not valid. The role assignment ID must be a GUID.",
        )
    props = body.get("properties") or {}
    scope = resource_id.split("/providers/Microsoft.Authorization/")[0].lower()
    wanted = (str(props.get("principalId", "")).lower(), _role(props))
    subscription = "/".join(resource_id.split("/")[:3])
    for other in store.list(subscription, TYPE):
        if other["id"].lower() == resource_id.lower():
            continue
        theirs = other["body"].get("properties") or {}
        same_scope = str(theirs.get("scope", "")).lower() == scope
        if same_scope and (str(theirs.get("principalId", "")).lower(), _role(theirs)) == wanted:
            raise ArmError(409, "RoleAssignmentExists", "The role assignment already exists.")


def _role(props: dict[str, Any]) -> str:
    return str(props.get("roleDefinitionId", "")).rsplit("/", 1)[-1].lower()
