"""Evaluate and deploy an ARM template (languageVersion 1.0 JSON, resource-group scope).

The engine never talks HTTP: the ARM server hands it `apply_resource` (PUT one resource through the
server's own handlers and return its GET body), and optionally `get_resource` and `list_keys`.
Validation (parameters, function names, names, dependsOn graph) happens before anything is applied,
as ARM does; a resource failure stops the deployment and skips everything depending on it."""

from __future__ import annotations

import copy as copylib
import datetime as dt
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import Deferred, ExpressionError, TemplateError
from .expressions import Node, evaluate, is_expression, literal_text, parse, type_name, walk_calls
from .functions import FUNCTIONS, check_known
from .jsonpos import Path, parse_with_positions

VALIDATION_FAILED = "Deployment template validation failed: '{0}'."
PARAM_TYPES = {
    "string": (str,),
    "securestring": (str,),
    "int": (int,),
    "bool": (bool,),
    "object": (dict,),
    "secureobject": (dict,),
    "array": (list,),
}
OUTPUT_TYPE_NAMES = {
    "string": "String",
    "securestring": "SecureString",
    "int": "Int",
    "bool": "Bool",
    "object": "Object",
    "secureobject": "SecureObject",
    "array": "Array",
}
RESOURCE_BODY_KEYS = (
    "location",
    "tags",
    "sku",
    "kind",
    "identity",
    "properties",
    "plan",
    "zones",
    "extendedLocation",
    "managedBy",
    "etag",
)


@dataclass(frozen=True)
class DeploymentContext:
    subscription_id: str
    resource_group: str
    resource_group_location: str
    deployment_name: str
    tenant_id: str = "00000000-0000-0000-0000-000000000000"
    resource_group_tags: Mapping[str, str] = field(default_factory=dict)
    subscription_display_name: str = "genaiops sandbox"

    @property
    def resource_group_id(self) -> str:
        return f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"

    @property
    def deployment_id(self) -> str:
        return f"{self.resource_group_id}/providers/Microsoft.Resources/deployments/{self.deployment_name}"


@dataclass(frozen=True)
class ResourceRequest:
    """One resource PUT the engine asks the ARM server to perform."""

    resource_id: str
    type: str  # full type, e.g. Microsoft.CognitiveServices/accounts/projects
    name: str  # full name, e.g. myaccount/myproject
    api_version: str
    body: dict[str, Any]  # the PUT body: location, tags, sku, kind, identity, properties, ...
    depends_on: tuple[str, ...] = ()
    scope: str | None = None  # the parent resource id of an extension resource (role assignments)


class ResourceApplyError(Exception):
    """What apply_resource raises when a resource fails (any exception with .code/.message works too)."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(f"{code}: {message}")
        self.code, self.message, self.status = code, message, status


ApplyResource = Callable[[ResourceRequest], dict[str, Any]]
GetResource = Callable[[str, str | None], dict[str, Any] | None]
ListKeys = Callable[[str, str], dict[str, Any]]


@dataclass
class PlannedResource:
    """A template resource after copy expansion and name/type/id evaluation."""

    index: int  # position in the expanded list, for stable ordering
    path: Path  # JSON path of the resource definition (for line info)
    definition: dict[str, Any]
    type: str
    name: str
    api_version: str
    resource_id: str
    scope: str | None
    copy_name: str | None
    copy_index: int | None
    parent_id: str | None
    depends_on: set[str] = field(default_factory=set)  # lower-case ids


@dataclass
class DeploymentResult:
    provisioning_state: str  # Succeeded | Failed
    outputs: dict[str, dict[str, Any]]  # ARM shape: {name: {"type": "String", "value": ...}}
    operations: list[dict[str, Any]]  # DeploymentOperation bodies (spec shape)
    output_resources: list[dict[str, str]]  # [{"id": ...}]
    error: dict[str, Any] | None  # ErrorResponse body when Failed
    parameters: dict[str, dict[str, Any]]  # echo; secure values replaced by their type only
    timestamp: str = ""
    duration: str = ""
    dependencies: list[dict[str, Any]] = field(default_factory=list)


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _iso_duration(seconds: float) -> str:
    return f"PT{seconds:.7f}S"


# ------------------------------------------------------------------------------------------------
class Evaluator:
    """Evaluation state for one template: parameters, variables, copy indexes and resource state."""

    def __init__(
        self,
        template: dict[str, Any],
        positions: dict[Path, tuple[int, int]],
        parameter_values: Mapping[str, Any],
        context: DeploymentContext,
        *,
        mode: str,
        get_resource: GetResource | None = None,
        list_keys: ListKeys | None = None,
    ) -> None:
        self.template = template
        self.positions = positions
        self.context = context
        self.mode = mode  # "deploy" | "whatif"
        self.get_resource = get_resource
        self.list_keys_fn = list_keys
        self.supplied = dict(parameter_values)
        self.params: dict[str, Any] = {}
        self.vars: dict[str, Any] = {}
        self._var_stack: list[str] = []
        self.copy_indexes: dict[str | None, int] = {}
        self.planned: list[PlannedResource] = []
        self.by_id: dict[str, PlannedResource] = {}
        self.deployed: dict[str, dict[str, Any]] = {}  # lower id -> GET body after apply
        self.secrets: list[str] = []
        self.forbid_runtime: str | None = None  # set while evaluating variables/names

    # -- positions and errors --------------------------------------------------------------------
    def where(self, path: Path) -> tuple[int, int]:
        while path not in self.positions and path:
            path = path[:-1]
        return self.positions.get(path, (1, 1))

    # -- values ----------------------------------------------------------------------------------
    def call(self, name: str, args: tuple[Node, ...]) -> Any:
        check_known(name)
        return FUNCTIONS[name.lower()](self, args)

    def value(self, raw: Any) -> Any:
        """Evaluate a JSON value: strings may be expressions; objects/arrays recurse."""
        if isinstance(raw, str):
            if is_expression(raw):
                return evaluate(parse(raw), self)
            return literal_text(raw)
        if isinstance(raw, dict):
            return {k: self.value(v) for k, v in raw.items()}
        if isinstance(raw, list):
            return [self.value(v) for v in raw]
        return raw

    def value_or_text(self, raw: Any) -> Any:
        """What-if flavour: any string whose value can't be known yet stays as its expression text."""
        if isinstance(raw, str):
            try:
                return self.value(raw)
            except Deferred:
                return raw
        if isinstance(raw, dict):
            return {k: self.value_or_text(v) for k, v in raw.items()}
        if isinstance(raw, list):
            return [self.value_or_text(v) for v in raw]
        return raw

    def resource_group_object(self) -> dict[str, Any]:
        c = self.context
        return {
            "id": c.resource_group_id,
            "name": c.resource_group,
            "type": "Microsoft.Resources/resourceGroups",
            "location": c.resource_group_location,
            "tags": dict(c.resource_group_tags),
            "properties": {"provisioningState": "Succeeded"},
        }

    def deployment_object(self) -> dict[str, Any]:
        return {
            "name": self.context.deployment_name,
            "properties": {
                "template": {"contentVersion": self.template.get("contentVersion", "1.0.0.0")},
                "templateHash": template_hash(self.template),
                "parameters": {},
                "mode": "Incremental",
                "provisioningState": "Accepted",
            },
        }

    # -- parameters --------------------------------------------------------------------------------
    def load_parameters(self) -> None:
        declared: dict[str, Any] = self.template.get("parameters") or {}
        lower = {k.lower(): k for k in declared}
        extra = [k for k in self.supplied if k.lower() not in lower]
        if extra:
            raise TemplateError(
                VALIDATION_FAILED.format(
                    f"The template parameters '{', '.join(extra)}' in the parameters file are not valid; they are not "
                    f"present in the original template and can therefore not be provided at deployment time. The only "
                    f"supported parameters for this template are '{', '.join(declared)}'. Please see "
                    f"https://aka.ms/arm-pass-parameter-values for usage details."
                )
            )
        supplied = {k.lower(): v for k, v in self.supplied.items()}
        for name, spec in declared.items():
            path: Path = ("parameters", name)
            line, col = self.where(path)
            ptype = str(spec.get("type", "")).lower()
            if ptype not in PARAM_TYPES:
                raise TemplateError(
                    VALIDATION_FAILED.format(
                        f"The template parameter '{name}' at line '{line}' and column '{col}' has an invalid type "
                        f"'{spec.get('type')}'."
                    ),
                    line=line,
                    column=col,
                    target=name,
                )
            if name.lower() in supplied:
                value = supplied[name.lower()]
            elif "defaultValue" in spec:
                try:
                    self.forbid_runtime = "parameter default"
                    value = self.value(spec["defaultValue"])
                except ExpressionError as exc:
                    raise TemplateError(
                        VALIDATION_FAILED.format(
                            f"The template parameter '{name}' at line '{line}' and column '{col}' is not valid: "
                            f"{exc.message}"
                        ),
                        line=line,
                        column=col,
                        target=name,
                    ) from None
                finally:
                    self.forbid_runtime = None
            else:
                raise TemplateError(
                    VALIDATION_FAILED.format(
                        f"The value for the template parameter '{name}' at line '{line}' and column '{col}' is not "
                        f"provided. Please see https://aka.ms/arm-create-parameter-file for usage details."
                    ),
                    line=line,
                    column=col,
                    target=name,
                )
            value = _coerce(value, ptype)
            if not isinstance(value, PARAM_TYPES[ptype]) or (ptype == "int" and isinstance(value, bool)):
                raise TemplateError(
                    VALIDATION_FAILED.format(
                        f"Template parameter JToken type is not valid. Expected '{_expected(ptype)}'. Actual "
                        f"'{type_name(value)}'. Please see https://aka.ms/arm-create-parameter-file for usage details."
                    ),
                    line=line,
                    column=col,
                    target=name,
                )
            self._check_constraints(name, spec, value, line, col)
            self.params[name] = value

    def _check_constraints(self, name: str, spec: dict[str, Any], value: Any, line: int, col: int) -> None:
        allowed = spec.get("allowedValues")
        if allowed is not None:
            ok = all(v in allowed for v in value) if isinstance(value, list) else value in allowed
            if not ok:
                raise TemplateError(
                    VALIDATION_FAILED.format(
                        f"The provided value '{value}' for the template parameter '{name}' at line '{line}' and column "
                        f"'{col}' is not valid. The parameter value is not part of the allowed value(s): "
                        f"'{','.join(str(a) for a in allowed)}'."
                    ),
                    line=line,
                    column=col,
                    target=name,
                )
        checks = [
            ("minLength", lambda v, n: len(v) >= n, "is less than the minimum length"),
            ("maxLength", lambda v, n: len(v) <= n, "exceeds the maximum length"),
            ("minValue", lambda v, n: v >= n, "is less than the minimum value"),
            ("maxValue", lambda v, n: v <= n, "exceeds the maximum value"),
        ]
        for key, ok, words in checks:
            if key in spec and not ok(value, spec[key]):
                raise TemplateError(
                    VALIDATION_FAILED.format(
                        f"The provided value for the template parameter '{name}' at line '{line}' and column '{col}' "
                        f"is not valid. The value {words} '{spec[key]}'."
                    ),
                    line=line,
                    column=col,
                    target=name,
                )

    def parameter(self, name: str) -> Any:
        for k, v in self.params.items():
            if k.lower() == name.lower():
                return copylib.deepcopy(v)
        raise ExpressionError(
            f"The template parameter '{name}' is not found. Please see "
            f"https://aka.ms/arm-syntax-parameters for usage details."
        )

    # -- variables ---------------------------------------------------------------------------------
    def variable(self, name: str) -> Any:
        declared = self._declared_variables()
        key = next((k for k in declared if k.lower() == name.lower()), None)
        if key is None:
            raise ExpressionError(
                f"The template variable '{name}' is not found. Please see "
                f"https://aka.ms/arm-syntax-variables for usage details."
            )
        if key in self.vars:
            return copylib.deepcopy(self.vars[key])
        if key in self._var_stack:
            raise ExpressionError(
                f"The template variable '{key}' has a circular reference: "
                f"{' -> '.join(self._var_stack + [key])}."
            )
        self._var_stack.append(key)
        saved, self.forbid_runtime = self.forbid_runtime, "variable"
        try:
            raw, path = declared[key]
            if isinstance(raw, tuple):  # a copy-generated variable: (spec, path)
                value = self._copy_variable(raw[0])
            else:
                value = self.value(raw)
        except ExpressionError as exc:
            line, col = self.where(path)
            raise ExpressionError(f"The template variable '{key}' is not valid: {exc.message}") from None
        finally:
            self.forbid_runtime = saved
            self._var_stack.pop()
        self.vars[key] = value
        return copylib.deepcopy(value)

    def _declared_variables(self) -> dict[str, tuple[Any, Path]]:
        out: dict[str, tuple[Any, Path]] = {}
        for k, v in (self.template.get("variables") or {}).items():
            if k == "copy" and isinstance(v, list):
                for i, spec in enumerate(v):
                    out[spec["name"]] = ((spec,), ("variables", "copy", i))
            else:
                out[k] = (v, ("variables", k))
        return out

    def _copy_variable(self, spec: dict[str, Any]) -> list[Any]:
        count = self.value(spec.get("count"))
        name = spec["name"]
        out = []
        for i in range(int(count)):
            self.copy_indexes[name] = i
            out.append(self.value(spec.get("input")))
        self.copy_indexes.pop(name, None)
        return out

    def copy_index(self, loop: str | None) -> int:
        if loop is None:
            if None in self.copy_indexes:
                return self.copy_indexes[None]
            if len(self.copy_indexes) == 1:
                return next(iter(self.copy_indexes.values()))
        elif loop in self.copy_indexes:
            return self.copy_indexes[loop]
        raise ExpressionError(
            "The template function 'copyIndex' is not expected at this location. The function "
            "can only be used in a resource with copy specified."
        )

    # -- resource ids --------------------------------------------------------------------------------
    def build_resource_id(self, fn: str, args: list[str], *, scope: str) -> str:
        type_at = next((i for i, a in enumerate(args) if re.match(r"^[A-Za-z0-9]+\.[A-Za-z0-9.]+/", a)), None)
        if type_at is None:
            raise ExpressionError(
                f"Unable to evaluate template language function '{fn}': no resource type "
                f"(Namespace.Provider/type) among its arguments."
            )
        rtype, names, lead = args[type_at], args[type_at + 1 :], args[:type_at]
        segments = rtype.split("/")[1:]
        if len(names) != len(segments):
            raise ExpressionError(
                f"Unable to evaluate template language function '{fn}': the type '{rtype}' "
                f"requires '{len(segments)}' resource name argument(s)."
            )
        sub, rg = self.context.subscription_id, self.context.resource_group
        if scope == "resourceGroup":
            if len(lead) == 1:
                rg = lead[0]
            elif len(lead) == 2:
                sub, rg = lead
            elif lead:
                raise ExpressionError(
                    f"Unable to evaluate template language function '{fn}': too many arguments "
                    f"before the resource type."
                )
            base = f"/subscriptions/{sub}/resourceGroups/{rg}"
        elif scope == "subscription":
            if len(lead) == 1:
                sub = lead[0]
            base = f"/subscriptions/{sub}"
        else:
            base = ""
        return base + "/providers/" + _interleave(rtype, names)

    def extension_id(self, base: str, rtype: str, names: list[str]) -> str:
        return base.rstrip("/") + "/providers/" + _interleave(rtype, names)

    def resolve_target(self, target: str) -> str:
        """reference()/listKeys() accept a resource id or the name of a resource in this template."""
        if target.startswith("/"):
            return target
        matches = [p for p in self.planned if p.name.lower() == target.lower()]
        if len(matches) == 1:
            return matches[0].resource_id
        if len(matches) > 1:
            raise ExpressionError(
                f"The resource name '{target}' is ambiguous in this template; use resourceId()."
            )
        raise ExpressionError(
            f"The template resource '{target}' is not found. Please see "
            f"https://aka.ms/arm-function-reference for usage details."
        )

    # -- runtime functions -------------------------------------------------------------------------------
    def reference(self, target: str, api_version: Any, full: bool) -> Any:
        if self.forbid_runtime:
            raise ExpressionError(
                "The template function 'reference' is not expected at this location. Please see "
                "https://aka.ms/arm-function-reference for usage details."
            )
        rid = self.resolve_target(target)
        body = self.deployed.get(rid.lower())
        if body is None:
            planned = self.by_id.get(rid.lower())
            if planned is not None and self.mode == "deploy":
                raise ExpressionError(
                    f"The resource '{rid}' is referenced before it is deployed; add it to dependsOn."
                )
            version = api_version or (planned.api_version if planned else None)
            if version is None:
                raise ExpressionError(
                    f"Unable to evaluate template language function 'reference': the api-version "
                    f"is required for resource '{rid}' that is not defined in this template."
                )
            body = self.get_resource(rid, str(version)) if self.get_resource else None
            if body is None:
                if self.mode == "whatif":
                    raise Deferred(rid)
                raise ExpressionError(
                    f"The Resource '{rid}' was not found. Please see "
                    f"https://aka.ms/arm-function-reference for usage details."
                )
        body = copylib.deepcopy(body)
        if full:
            body.setdefault("apiVersion", api_version)
            return body
        return body.get("properties", {})

    def list_keys(self, target: str, api_version: str) -> Any:
        if self.forbid_runtime:
            raise ExpressionError(
                "The template function 'listKeys' is not expected at this location. Please see "
                "https://aka.ms/arm-function-list for usage details."
            )
        if self.mode == "whatif":
            raise Deferred(target)  # what-if never fetches (or shows) secrets
        rid = self.resolve_target(target)
        if self.list_keys_fn is None:
            raise ExpressionError(
                f"The resource '{rid}' does not support the 'listKeys' action in the stand-in."
            )
        keys = self.list_keys_fn(rid, api_version)
        self._remember_secrets(keys)
        return keys

    def _remember_secrets(self, value: Any) -> None:
        if isinstance(value, str) and len(value) >= 8:
            self.secrets.append(value)
        elif isinstance(value, dict):
            for v in value.values():
                self._remember_secrets(v)
        elif isinstance(value, list):
            for v in value:
                self._remember_secrets(v)


def _interleave(rtype: str, names: list[str]) -> str:
    namespace, *segments = rtype.split("/")
    parts = [namespace]
    for seg, name in zip(segments, names, strict=True):
        parts += [seg, name]
    return "/".join(parts)


def _coerce(value: Any, ptype: str) -> Any:
    # ARM converts string parameter values for int/bool parameters (e.g. from the CLI's key=value form).
    if ptype == "int" and isinstance(value, str) and re.fullmatch(r"-?\d+", value):
        return int(value)
    if ptype == "bool" and isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return value


def _expected(ptype: str) -> str:
    return {
        "string": "String, Uri",
        "securestring": "String",
        "int": "Integer",
        "bool": "Boolean",
        "object": "Object",
        "secureobject": "Object",
        "array": "Array",
    }[ptype]


def template_hash(template: dict[str, Any]) -> str:
    import hashlib

    digest = hashlib.sha256(json.dumps(template, sort_keys=True).encode()).digest()
    return str(int.from_bytes(digest[:8], "big"))


def normalize_parameters(parameters: Mapping[str, Any] | None) -> dict[str, Any]:
    """Accept ARM's `{"p": {"value": v}}`, a whole parameters file, or plain `{"p": v}`."""
    if not parameters:
        return {}
    if "$schema" in parameters or ("parameters" in parameters and "contentVersion" in parameters):
        parameters = parameters.get("parameters") or {}
    out: dict[str, Any] = {}
    for k, v in parameters.items():
        if isinstance(v, dict) and "reference" in v:
            raise TemplateError(
                f"The parameter '{k}' uses a Key Vault reference, which the stand-in does not support.",
                code="InvalidParameter",
            )
        out[k] = v["value"] if isinstance(v, dict) and set(v) <= {"value", "metadata"} and "value" in v else v
    return out


# ------------------------------------------------------------------------------------------------
class Template:
    """A parsed template with its positions; `plan()` validates it without applying anything."""

    def __init__(self, template: dict[str, Any] | str) -> None:
        text = template if isinstance(template, str) else json.dumps(template, separators=(",", ":"))
        self.body, self.positions = parse_with_positions(text)
        if not isinstance(self.body, dict):
            raise TemplateError("Deployment template parse failed: the template must be a JSON object.")
        if not isinstance(self.body.get("resources", []), list):
            raise TemplateError(
                VALIDATION_FAILED.format(
                    "The template 'resources' property must be an array (symbolic-name templates, languageVersion "
                    "2.0, are not supported by the stand-in)."
                )
            )
        if self.body.get("functions"):
            line, col = self._where(("functions",))
            raise TemplateError(
                VALIDATION_FAILED.format(
                    f"User-defined functions at line '{line}' and column '{col}' are not supported by the stand-in."
                ),
                line=line,
                column=col,
            )
        self._check_function_names()

    def _where(self, path: Path) -> tuple[int, int]:
        while path not in self.positions and path:
            path = path[:-1]
        return self.positions.get(path, (1, 1))

    def _check_function_names(self) -> None:
        """ARM rejects an unknown function at validation time, wherever it sits (even in a branch never taken)."""
        for path, text in _strings(self.body, ()):
            if not is_expression(text):
                continue
            line, col = self._where(path)
            try:
                for call in walk_calls(parse(text)):
                    check_known(call.name)
            except ExpressionError as exc:
                raise TemplateError(
                    VALIDATION_FAILED.format(
                        f"The template {_describe(path, self.body)} at line '{line}' and column '{col}' is not valid: "
                        f"{exc.message}"
                    ),
                    line=line,
                    column=col,
                    target=_target(path, self.body),
                ) from None


def _strings(value: Any, path: Path) -> list[tuple[Path, str]]:
    out: list[tuple[Path, str]] = []
    if isinstance(value, str):
        out.append((path, value))
    elif isinstance(value, dict):
        for k, v in value.items():
            out.extend(_strings(v, path + (k,)))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out.extend(_strings(v, path + (i,)))
    return out


def _describe(path: Path, body: dict[str, Any]) -> str:
    if path[:1] == ("resources",):
        return f"resource '{_target(path, body)}'"
    if path[:1] == ("variables",) and len(path) > 1:
        return f"variable '{path[1]}'"
    if path[:1] == ("outputs",) and len(path) > 1:
        return f"output '{path[1]}'"
    if path[:1] == ("parameters",) and len(path) > 1:
        return f"parameter '{path[1]}'"
    return "expression"


def _target(path: Path, body: dict[str, Any]) -> str | None:
    if path[:1] == ("resources",) and len(path) > 1:
        node: Any = body
        names = []
        for i, part in enumerate(path):
            node = node[part]
            if isinstance(node, dict) and path[i - 1] == "resources" and "name" in node:
                names.append(str(node["name"]))
        return "/".join(names) if names else None
    return str(path[1]) if len(path) > 1 else None
