"""What-if: the stand-in computes it, core.whatif summarises it. Change types, property deltas, and
the result shape checked against the official Microsoft.Resources 2026-06-01 WhatIfOperationResult
schema."""

from __future__ import annotations

from typing import Any

import pytest

from genaiops_cli.core.whatif import flatten_delta, has_changes, summarize
from genaiops_sandbox.templates.whatif import what_if_changes, what_if_result
from tests.conftest import require_specs

RG = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg"
REG = f"{RG}/providers/Microsoft.ContainerRegistry/registries/cr1"
ID = f"{RG}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id1"
SPEC = (
    "specification/resources/resource-manager/Microsoft.Resources/deployments/stable/2026-06-01/"
    "deployments.json"
)


def _registry(sku: str = "Basic", **props: Any) -> dict[str, Any]:
    return {
        "id": REG,
        "name": "cr1",
        "type": "Microsoft.ContainerRegistry/registries",
        "apiVersion": "2025-11-01",
        "location": "eastus2",
        "tags": {"env": "dev"},
        "sku": {"name": sku},
        "properties": {"adminUserEnabled": False, **props},
    }


def _current_registry(sku: str = "Basic") -> dict[str, Any]:
    body = _registry(
        sku, loginServer="cr1.azurecr.io", provisioningState="Succeeded", creationDate="2026-01-01"
    )
    body.pop("apiVersion")
    body["location"] = "East US 2"  # GET may spell the region differently
    body["systemData"] = {"createdBy": "x"}
    body["id"] = REG.lower()  # ids are case-insensitive
    return body


def test_create_on_empty() -> None:
    changes = what_if_changes({}, [_registry()])
    assert [(c["changeType"], c["resourceId"]) for c in changes] == [("Create", REG)]
    assert "before" not in changes[0] and changes[0]["after"]["sku"] == {"name": "Basic"}


def test_nochange_ignores_server_populated_and_readonly_noise() -> None:
    changes = what_if_changes({REG: _current_registry()}, [_registry()])
    assert [c["changeType"] for c in changes] == ["NoChange"]
    assert "delta" not in changes[0]


def test_changed_sku_is_modify_with_property_diff() -> None:
    changes = what_if_changes({REG: _current_registry()}, [_registry("Premium")])
    assert changes[0]["changeType"] == "Modify"
    assert changes[0]["delta"] == [
        {"path": "sku.name", "propertyChangeType": "Modify", "before": "Basic", "after": "Premium"}
    ]


def test_tags_create_and_delete_are_reported() -> None:
    desired = _registry()
    desired["tags"] = {"owner": "me"}
    delta = what_if_changes({REG: _current_registry()}, [desired])[0]["delta"]
    assert {(d["path"], d["propertyChangeType"]) for d in delta} == {
        ("tags.owner", "Create"),
        ("tags.env", "Delete"),
    }


def test_arrays_nested_and_unevaluated_values() -> None:
    current = {
        ID: {"id": ID, "type": "t", "name": "id1", "properties": {"list": [{"a": 1}, {"a": 2}], "k": "v"}}
    }
    desired = {
        "id": ID,
        "type": "t",
        "name": "id1",
        "properties": {"list": [{"a": 1}, {"a": 3}, {"a": 4}], "k": "[reference('x').k]"},
    }
    change = what_if_changes(current, [desired])[0]
    assert change["changeType"] == "Modify"
    array = next(d for d in change["delta"] if d["path"] == "properties.list")
    assert array["propertyChangeType"] == "Array"
    assert [(c["path"], c["propertyChangeType"]) for c in array["children"]] == [
        ("1", "Modify"),
        ("2", "Create"),
    ]
    assert {
        "path": "properties.k",
        "propertyChangeType": "NoEffect",
        "before": "v",
        "after": "[reference('x').k]",
    } in change["delta"]
    rows = flatten_delta(change["delta"])
    assert {"path": "properties.list[1].a", "change": "Modify", "before": 2, "after": 3} in rows
    # only a NoEffect difference: still NoChange
    desired["properties"]["list"] = [{"a": 1}, {"a": 2}]
    assert what_if_changes(current, [desired])[0]["changeType"] == "NoChange"


@pytest.mark.parametrize("mode,expected", [("Incremental", "Ignore"), ("Complete", "Delete")])
def test_resources_outside_the_template(mode: str, expected: str) -> None:
    current = {
        REG: _current_registry(),
        ID: {"id": ID, "type": "Microsoft.ManagedIdentity/userAssignedIdentities"},
    }
    result = what_if_result(current, [_registry()], mode=mode)
    assert {c["resourceId"]: c["changeType"] for c in result["properties"]["changes"]} == {
        REG: "NoChange",
        ID: expected,
    }
    counts = summarize(result)
    assert counts["NoChange"] == 1 and counts[expected] == 1 and counts["Create"] == 0
    assert has_changes(result) is (expected == "Delete")


def test_result_matches_the_official_schema() -> None:
    from genaiops_sandbox.specs import shared_index, specs_root

    require_specs()
    root = specs_root()
    index = shared_index(root)
    desired = [
        _registry("Premium"),
        {
            "id": ID,
            "type": "Microsoft.ManagedIdentity/userAssignedIdentities",
            "name": "id1",
            "apiVersion": "2023-01-31",
            "location": "eastus2",
        },
    ]
    extra = f"{RG}/providers/Microsoft.Storage/storageAccounts/st1"
    result = what_if_result({REG: _current_registry(), extra: {"id": extra}}, desired)
    kinds = {c["changeType"] for c in result["properties"]["changes"]}
    assert kinds == {"Create", "Modify", "Ignore"}
    schema = {"$ref": "#/definitions/WhatIfOperationResult"}
    assert index.validate(schema, root / SPEC, result, request=False) == []
    # and the validator is really strict about the enums: a made-up change type is rejected
    bad = {"status": "Succeeded", "properties": {"changes": [{"resourceId": REG, "changeType": "Replace"}]}}
    assert index.validate(schema, root / SPEC, bad, request=False)
