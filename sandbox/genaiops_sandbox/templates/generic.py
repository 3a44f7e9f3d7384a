"""Server-populated properties for the resource types the stand-in stores as plain resources.

The ARM server PUTs emulated types (managed environments, registries, container apps) through its own
handlers; everything else can go through `materialise()`, which returns the GET body a real resource
provider would: the request plus read-only values later steps read via reference() (identity ids, the
workspace customerId, the Foundry project endpoint, ...). `list_keys()` answers listKeys() with
stand-in keys derived from the id; they are never returned by any GET and never allowed in outputs."""

from __future__ import annotations

import copy
import hashlib
import uuid
from collections.abc import Callable
from typing import Any

SANDBOX_SUFFIX = "sandbox.genaiops.test"


def _uuid(*parts: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "/".join(p.lower() for p in parts)))


def _tail(name: str) -> str:
    return name.split("/")[-1]


def materialise(
    resource_id: str,
    rtype: str,
    name: str,
    body: dict[str, Any],
    *,
    tenant_id: str,
    existing: dict[str, Any] | None = None,
    foundry_url: str | None = None,
    vault_uri: Callable[[str], str] | None = None,
    ingestion_url: str | None = None,
) -> dict[str, Any]:
    """The GET body after a PUT of `body` (a full replace, as ARM PUT semantics are).
    `foundry_url`: the stand-in's Foundry listener, which serves every project's data plane at
    `<foundry_url>/<account>/api/projects/<project>` (foundry_server.py). `vault_uri`: starts a Key
    Vault's data plane (keyvault.py) and returns its URI. `ingestion_url`: the stand-in's
    Application Insights ingestion endpoint (monitor/dataplane.py)."""
    out: dict[str, Any] = {
        "id": resource_id,
        "name": _tail(name) if "/" not in rtype.split("/", 1)[1] else name,
        "type": rtype,
    }
    body = copy.deepcopy(body)  # the caller's request must not change when the stored resource does
    for key, value in body.items():
        out[key] = value
    props = dict(body.get("properties") or {})
    t = rtype.lower()
    identity = out.get("identity")
    if isinstance(identity, dict) and "systemassigned" in str(identity.get("type", "")).lower().replace(
        ",", ""
    ):
        out["identity"] = {**identity, "principalId": _uuid(resource_id, "principal"), "tenantId": tenant_id}
    if t == "microsoft.managedidentity/userassignedidentities":
        props.update(
            tenantId=tenant_id,
            principalId=_uuid(resource_id, "principal"),
            clientId=_uuid(resource_id, "client"),
        )
    elif t == "microsoft.operationalinsights/workspaces":
        props["customerId"] = _uuid(resource_id, "customer")
    elif t == "microsoft.insights/components":
        key = _uuid(resource_id, "ikey")
        props.update(
            AppId=_uuid(resource_id, "app"),
            InstrumentationKey=key,
            ConnectionString=f"InstrumentationKey={key};IngestionEndpoint={ingestion_url or f'https://{SANDBOX_SUFFIX}/'};"
            f"ApplicationId={_uuid(resource_id, 'app')}",
        )
    elif t == "microsoft.storage/storageaccounts":
        short = _tail(name)
        props["primaryEndpoints"] = {
            s: f"https://{short}.{s}.{SANDBOX_SUFFIX}/" for s in ("blob", "queue", "table", "file", "dfs")
        }
    elif t == "microsoft.cognitiveservices/accounts":
        sub = props.get("customSubDomainName") or _tail(name)
        props["endpoint"] = f"https://{sub}.cognitiveservices.{SANDBOX_SUFFIX}/"
        props["endpoints"] = {
            "AI Foundry API": f"https://{sub}.services.ai.{SANDBOX_SUFFIX}/",
            "OpenAI Language Model Instance API": f"https://{sub}.openai.{SANDBOX_SUFFIX}/",
        }
    elif t == "microsoft.cognitiveservices/accounts/projects":
        account, project = name.split("/")[0], _tail(name)
        props["endpoints"] = {
            "AI Foundry API": f"{foundry_url}/{account}/api/projects/{project}"
            if foundry_url
            else f"https://{account}.services.ai.{SANDBOX_SUFFIX}/api/projects/{project}"
        }
    elif t == "microsoft.keyvault/vaults":
        short = _tail(name)
        props["vaultUri"] = vault_uri(short) if vault_uri else f"https://{short}.vault.{SANDBOX_SUFFIX}/"
    elif t == "microsoft.authorization/roleassignments":
        props["scope"] = resource_id.split("/providers/Microsoft.Authorization/")[0]
    props["provisioningState"] = "Succeeded"
    out["properties"] = props
    return out


def list_keys(resource_id: str, rtype: str) -> dict[str, Any]:
    """Stand-in keys: deterministic per resource so repeated deployments see the same values."""
    seed = hashlib.sha256(("genaiops-sandbox-key|" + resource_id.lower()).encode()).hexdigest()
    t = rtype.lower()
    if t == "microsoft.operationalinsights/workspaces":
        return {"primarySharedKey": seed[:44], "secondarySharedKey": seed[20:64]}
    if t == "microsoft.storage/storageaccounts":
        return {
            "keys": [
                {"keyName": "key1", "value": seed[:44], "permissions": "FULL"},
                {"keyName": "key2", "value": seed[20:64], "permissions": "FULL"},
            ]
        }
    return {"key1": seed[:32], "key2": seed[32:64]}
