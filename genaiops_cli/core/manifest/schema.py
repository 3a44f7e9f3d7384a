"""The published JSON Schema of genaiops.yaml, derived from the pydantic model.

docs/genaiops.schema.json is this function's output (`genaiops schema > docs/genaiops.schema.json`);
tests/core/test_schema_drift.py fails when the two differ."""

from __future__ import annotations

import copy
import json
from typing import Any

from genaiops_cli.core.manifest.model import Manifest, Service

SCHEMA_ID = "https://raw.githubusercontent.com/genaiops/genaiops/main/docs/genaiops.schema.json"
SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def manifest_json_schema() -> dict[str, Any]:
    generated = Manifest.model_json_schema(by_alias=True, mode="validation")
    schema: dict[str, Any] = {"$schema": SCHEMA_DIALECT, "$id": SCHEMA_ID, **generated}
    defs = schema["$defs"]
    _add_host_rules(defs["Service"])
    # Overrides are partial services: any service key, nothing required (the loader validates
    # the merged result). Only the keys are constrained here, so editors complete them.
    override = {
        "type": "object",
        "title": "ServiceOverride",
        "description": "Any service field; mappings merge key by key, "
        "lists and scalars replace, null clears.",
        "properties": {
            (info.alias or name): ({"description": info.description} if info.description else {})
            for name, info in Service.model_fields.items()
        },
        "additionalProperties": False,
    }
    defs["ServiceOverride"] = override
    env_services = defs["Environment"]["properties"]["services"]
    env_services["additionalProperties"] = {"$ref": "#/$defs/ServiceOverride"}
    return _allow_interpolation(schema)


INTERPOLATED = {
    "type": "string",
    "pattern": r"\$\{",
    "description": "A `${VAR}` reference, checked after substitution.",
}


def _allow_interpolation(node: Any) -> Any:
    """Editors validate the file before `${VAR}` is substituted: a reference must be accepted
    wherever a pattern-checked string, a number or a boolean is expected."""
    if isinstance(node, list):
        return [_allow_interpolation(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: (v if k in ("properties", "$defs") else _allow_interpolation(v)) for k, v in node.items()}
    for k in ("properties", "$defs"):
        if k in node:
            out[k] = {name: _allow_interpolation(sub) for name, sub in node[k].items()}
    if out.get("type") == "string" and "pattern" in out:
        out["pattern"] = f"(?:{out['pattern']})|\\$\\{{"
    elif out.get("type") in ("integer", "number", "boolean"):
        meta = {k: out.pop(k) for k in ("title", "description", "default", "examples") if k in out}
        out = {"anyOf": [out, INTERPOLATED], **meta}
    return out


def _add_host_rules(service: dict[str, Any]) -> None:
    service["allOf"] = [
        {
            "if": {"properties": {"host": {"const": "containerapp"}}},
            "then": {"required": ["ingress"]},
        },
        {
            "if": {"properties": {"host": {"const": "foundry-agent"}}, "required": ["host"]},
            "then": {"required": ["agent"]},
        },
    ]


def manifest_json_schema_text() -> str:
    """The exact text committed as docs/genaiops.schema.json."""
    return json.dumps(copy.deepcopy(manifest_json_schema()), indent=2, ensure_ascii=False) + "\n"
