"""Template functions: known values (Azure's documented examples and published vectors), ARM-shaped
errors for everything the stand-in does not implement."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from genaiops_sandbox.templates import DeploymentContext, TemplateError, deploy, validate
from genaiops_sandbox.templates.hashing import arm_guid, unique_string

CTX = DeploymentContext(
    subscription_id="00000000-0000-0000-0000-000000000001",
    resource_group="rg-fn",
    resource_group_location="westus2",
    deployment_name="fn",
)


def _eval(
    expression: str, parameters: dict[str, Any] | None = None, variables: dict[str, Any] | None = None
) -> Any:
    template = {
        "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
        "contentVersion": "1.0.0.0",
        "parameters": {k: {"type": _type(v)} for k, v in (parameters or {}).items()},
        "variables": variables or {},
        "resources": [],
        "outputs": {"result": {"type": "object", "value": {"v": expression}}},
    }
    result = deploy(template, parameters, CTX, lambda req: {})
    if result.error:  # outputs are evaluated after the resources, so their errors fail the deployment
        raise TemplateError(json.dumps(result.error), code=result.error["code"])
    return result.outputs["result"]["value"]["v"]


def _type(v: Any) -> str:
    return {bool: "bool", int: "int", str: "string", list: "array", dict: "object"}[type(v)]


def test_unique_string_matches_published_vector_and_is_stable() -> None:
    assert (
        unique_string("/subscriptions/00000000-0000-0000-0000-000000000000", "resource-id") == "cwvxuqg24sifi"
    )
    value = _eval("[uniqueString(resourceGroup().id)]")
    assert value == unique_string(CTX.resource_group_id) == _eval("[uniqueString(resourceGroup().id)]")
    assert re.fullmatch(r"[a-z2-7]{13}", value)
    # every tail length of the hash (0..7 remaining bytes) stays 13 base-32 chars
    for n in range(0, 17):
        assert re.fullmatch(r"[a-z2-7]{13}", unique_string("x" * n))
    assert unique_string("a", "b") == unique_string("a-b") != unique_string("ab")


def test_guid_is_arm_v5_over_the_fixed_namespace() -> None:
    value = _eval("[guid(resourceGroup().id, 'role')]")
    assert value == arm_guid(CTX.resource_group_id, "role")
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", value)
    # the form ARM's docs and azapi use: uuidv5(11fb06fb-…, join('-', args))
    import uuid

    assert arm_guid("a", "b") == str(uuid.uuid5(uuid.UUID("11fb06fb-712d-4ddd-98c7-e71bbd588830"), "a-b"))


@pytest.mark.parametrize(
    "expression,expected",
    [
        # documented examples (learn.microsoft.com template-functions-*)
        (
            "[format('{0}, {1}. Formatted number: {2:N0}', 'Hello', 'User', 8175133)]",
            "Hello, User. Formatted number: 8,175,133",
        ),
        ("[format('{0:D3}', 7)]", "007"),
        ("[concat('prefix', '-', 'abc')]", "prefix-abc"),
        ("[concat(createArray('1-1', '1-2'), createArray('2-1'))]", ["1-1", "1-2", "2-1"]),
        ("[toLower('One Two')]", "one two"),
        ("[toUpper('One Two')]", "ONE TWO"),
        ("[substring('one two three', 4, 3)]", "two"),
        ("[replace('123-123-1234', '-', '')]", "1231231234"),
        ("[split('one,two,three', ',')]", ["one", "two", "three"]),
        ("[join(createArray('a', 'b'), ';')]", "a;b"),
        ("[last('One Two Three')]", "e"),
        ("[first(createArray('one', 'two'))]", "one"),
        ("[take('one two', 3)]", "one"),
        ("[skip(createArray('a', 'b', 'c'), 1)]", ["b", "c"]),
        ("[length('hello')]", 5),
        ("[contains('OneTwoThree', 'e')]", True),
        ("[contains(createObject('one', 'a'), 'ONE')]", True),
        ("[empty('')]", True),
        ("[union(createObject('a', 1, 'b', 2), createObject('b', 3))]", {"a": 1, "b": 3}),
        ("[union(createArray('one', 'two'), createArray('two', 'three'))]", ["one", "two", "three"]),
        ("[json('{\"a\": [1, true]}').a[1]]", True),
        ("[string(createObject('a', 1))]", '{"a":1}'),
        ("[string(true())]", "True"),
        ("[int('42')]", 42),
        ("[bool('TRUE')]", True),
        ("[if(equals(1, 1), 'yes', reference('never-evaluated'))]", "yes"),
        ("[and(true(), not(false()), or(false(), true()))]", True),
        ("[equals('a', 'A')]", False),
        ("[createObject('k', 'it''s')]", {"k": "it's"}),
        (
            "[resourceId('Microsoft.Network/virtualNetworks/subnets', 'vnet', 'sub')]",
            "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-fn/providers/Microsoft.Network/"
            "virtualNetworks/vnet/subnets/sub",
        ),
        (
            "[resourceId('otherRg', 'Microsoft.Storage/storageAccounts', 'st')]",
            "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/otherRg/providers/Microsoft.Storage/"
            "storageAccounts/st",
        ),
        (
            "[subscriptionResourceId('Microsoft.Authorization/roleDefinitions', 'abc')]",
            "/subscriptions/00000000-0000-0000-0000-000000000001/providers/Microsoft.Authorization/roleDefinitions/abc",
        ),
        ("[resourceGroup().location]", "westus2"),
        ("[subscription().subscriptionId]", "00000000-0000-0000-0000-000000000001"),
        ("[deployment().name]", "fn"),
        ("[[not an expression]", "[not an expression]"),
        ("plain text", "plain text"),
    ],
)
def test_known_values(expression: str, expected: Any) -> None:
    assert _eval(expression) == expected


def test_parameters_variables_and_variable_copy() -> None:
    variables = {
        "base": "[toUpper(parameters('p'))]",
        "both": "[concat(variables('base'), '-', parameters('p'))]",
        "copy": [{"name": "disks", "count": 3, "input": "[format('disk{0}', copyIndex('disks', 1))]"}],
    }
    assert _eval("[variables('both')]", {"p": "ab"}, variables) == "AB-ab"
    assert _eval("[variables('disks')]", {"p": "x"}, variables) == ["disk1", "disk2", "disk3"]


@pytest.mark.parametrize(
    "expression,name",
    [
        ("[environment().name]", "environment"),
        ("[utcNow()]", "utcNow"),
        ("[if(true(), 'a', newGuid())]", "newGuid"),  # even in a branch never taken: validation rejects it
        ("[pickZones('Microsoft.Compute', 'virtualMachines', 'westus2')]", "pickZones"),
        ("[listSecrets(resourceGroup().id, '2020-01-01')]", "listSecrets"),
        ("[lambda('x', 1)]", "lambda"),
    ],
)
def test_unsupported_function_is_named_invalid_template(expression: str, name: str) -> None:
    with pytest.raises(TemplateError) as err:
        _eval(expression)
    assert err.value.code == "InvalidTemplate"
    assert f"The template function '{name}' is not valid" in err.value.message
    assert err.value.to_arm()["code"] == "InvalidTemplate"


def test_reference_not_allowed_in_variables() -> None:
    with pytest.raises(
        TemplateError, match="The template function 'reference' is not expected at this location"
    ):
        _eval("[variables('v')]", variables={"v": "[reference('x', '2020-01-01').a]"})


@pytest.mark.parametrize(
    "expression,words",
    [
        ("[concat('a']", "not valid"),
        ("[substring('abc', 2, 5)]", "exceeds the string length"),
        ("[createObject('a')]", "even number of arguments"),
        ("[parameters('nope')]", "The template parameter 'nope' is not found"),
        ("[json('{').a]", "not valid JSON"),
    ],
)
def test_bad_expressions_fail_loudly(expression: str, words: str) -> None:
    with pytest.raises(TemplateError, match=re.escape(words)):
        _eval(expression)


def test_copy_loop_condition_and_dependency_by_name() -> None:
    template = {
        "$schema": "x",
        "contentVersion": "1.0.0.0",
        "parameters": {},
        "variables": {},
        "resources": [
            {
                "type": "Microsoft.Storage/storageAccounts",
                "apiVersion": "2023-05-01",
                "name": "[format('st{0}', copyIndex())]",
                "copy": {"name": "stLoop", "count": 3},
                "location": "[resourceGroup().location]",
                "dependsOn": ["idA"],
            },
            {
                "type": "Microsoft.ManagedIdentity/userAssignedIdentities",
                "apiVersion": "2023-01-31",
                "name": "idA",
                "location": "westus2",
            },
            {
                "type": "Microsoft.ManagedIdentity/userAssignedIdentities",
                "apiVersion": "2023-01-31",
                "name": "idSkipped",
                "condition": "[equals(1, 2)]",
                "location": "westus2",
            },
            {
                "type": "Microsoft.Insights/components",
                "apiVersion": "2020-02-02",
                "name": "appi",
                "location": "westus2",
                "dependsOn": ["stLoop"],
                "properties": {},
            },
        ],
        "outputs": {},
    }
    seen: list[str] = []
    result = deploy(template, {}, CTX, lambda req: seen.append(req.name) or {"properties": {}})
    assert result.provisioning_state == "Succeeded"
    assert seen == ["idA", "st0", "st1", "st2", "appi"]


def test_circular_dependency_detected() -> None:
    template = {
        "$schema": "x",
        "contentVersion": "1.0.0.0",
        "resources": [
            {"type": "Microsoft.Web/sites", "apiVersion": "2023-01-01", "name": "a", "dependsOn": ["b"]},
            {"type": "Microsoft.Web/sites", "apiVersion": "2023-01-01", "name": "b", "dependsOn": ["a"]},
        ],
    }
    with pytest.raises(TemplateError, match="Circular dependency detected"):
        validate(template, {}, CTX)


def test_undefined_dependency_and_bad_segments() -> None:
    template = {
        "$schema": "x",
        "contentVersion": "1.0.0.0",
        "resources": [
            {"type": "Microsoft.Web/sites", "apiVersion": "2023-01-01", "name": "a", "dependsOn": ["ghost"]}
        ],
    }
    with pytest.raises(TemplateError, match="The resource 'ghost' is not defined in the template"):
        validate(template, {}, CTX)
    template["resources"] = [{"type": "Microsoft.Web/sites/slots", "apiVersion": "2023-01-01", "name": "a"}]
    with pytest.raises(TemplateError, match="incorrect segment lengths"):
        validate(template, {}, CTX)
