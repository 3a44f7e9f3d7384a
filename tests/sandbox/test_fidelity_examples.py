"""Fidelity: the official example responses of the specs replay through the SDK models without loss,
and validate against the specs with the same validator the stand-in runs on every exchange."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from genaiops_sandbox.specs import SpecValidator, specs_root
from tests.conftest import azure_specs, require_specs

SPECS = [
    (
        "azure.mgmt.appcontainers.models",
        "specification/app/resource-manager/Microsoft.App/ContainerApps/stable/2026-07-01/openapi.json",
    ),
    (
        "azure.mgmt.containerregistry.models",
        "specification/containerregistry/resource-manager/Microsoft.ContainerRegistry/Registry/stable/2025-11-01/"
        "containerregistry.json",
    ),
]


def _cases() -> list[Any]:
    if not azure_specs().found:
        return [
            pytest.param(None, None, None, marks=pytest.mark.skip(reason="Azure REST specs not available"))
        ]
    root = specs_root()
    cases = []
    for models, rel in SPECS:
        spec_file = root / rel
        if not spec_file.exists():
            continue
        spec = json.loads(spec_file.read_text())
        for item in spec["paths"].values():
            for method, op in item.items():
                if method == "parameters":
                    continue
                for ex in (op.get("x-ms-examples") or {}).values():
                    example = (spec_file.parent / ex["$ref"]).resolve()
                    if not example.exists():
                        continue
                    for status, response in json.loads(example.read_text()).get("responses", {}).items():
                        schema = (op["responses"].get(status) or {}).get("schema") or {}
                        ref = schema.get("$ref", "")
                        if "body" in response and ref.startswith("#/definitions/"):
                            cases.append(
                                pytest.param(
                                    models,
                                    ref.split("/")[-1],
                                    response["body"],
                                    id=f"{op['operationId']}-{example.stem}-{status}",
                                )
                            )
    return cases


def _leaves(node: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for k, v in node.items():
            out.update(_leaves(v, f"{prefix}/{k}"))
        return out
    if isinstance(node, list):
        out = {}
        for i, v in enumerate(node):
            out.update(_leaves(v, f"{prefix}/{i}"))
        return out
    return {prefix: node}


def _same(a: Any, b: Any) -> bool:
    if a == b:
        return True
    if isinstance(a, str) and isinstance(b, str):
        try:  # date-times are re-rendered by the SDK (precision, Z vs +00:00)
            parse = lambda s: dt.datetime.fromisoformat(s.replace("Z", "+00:00"))  # noqa: E731
            return abs((parse(a) - parse(b)).total_seconds()) < 1e-3
        except ValueError:
            return False
    return isinstance(a, (int, float)) and isinstance(b, (int, float)) and float(a) == float(b)


def _typed_view(value: Any) -> Any:
    """What a caller sees through the SDK model's typed attributes, keyed by wire names again.
    A key the model has no attribute for is a field the SDK would drop."""
    import enum

    fields = getattr(type(value), "_attr_to_rest_field", None)
    if fields is not None:
        out = {}
        for attr, field in fields.items():
            item = getattr(value, attr)
            if item is not None:
                out[field._rest_name] = _typed_view(item)
        return out
    if isinstance(value, list):
        return [_typed_view(v) for v in value]
    if isinstance(value, dict):
        return {k: _typed_view(v) for k, v in value.items()}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value
    return value


@pytest.mark.parametrize("models, definition, body", _cases())
def test_example_response_replays_through_sdk_models(models: str, definition: str, body: Any) -> None:
    import importlib

    module = importlib.import_module(models)
    model = getattr(module, definition, None)
    if model is None:
        pytest.skip(f"the SDK has no model named {definition} (pageable or renamed)")
    again = _typed_view(model(json.loads(json.dumps(body))))
    original, replayed = _leaves(body), _leaves(again)
    lost = {k: v for k, v in original.items() if v is not None and not _same(v, replayed.get(k))}
    assert not lost, f"fields lost or changed by {definition}: {json.dumps(lost)[:800]}"


def test_the_validator_accepts_every_example_response() -> None:
    require_specs()
    validator = SpecValidator()
    checked = 0
    problems = []
    for ops in validator.index.operations.values():
        for _, op in ops:
            for ex in (op.definition.get("x-ms-examples") or {}).values():
                example = (op.file.parent / ex["$ref"]).resolve()
                if not example.exists():
                    continue
                for status, response in json.loads(example.read_text()).get("responses", {}).items():
                    if "body" not in response:
                        continue
                    checked += 1
                    # example files often omit response headers, so only bodies are judged here
                    found = [
                        p
                        for p in validator.check_response(
                            op, int(status), response["body"], response.get("headers") or {}
                        )
                        if "header" not in p
                    ]
                    problems += [f"{example.name}: {p}" for p in found]
    assert checked > 10
    assert not problems, "\n".join(problems)
