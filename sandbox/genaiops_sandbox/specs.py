"""Check requests and responses against the official Azure REST specs (found by specs_source.py).

Swagger 2.0 is draft-04 JSON Schema plus AutoRest semantics, so each spec file is rewritten (a copy,
never the files) before validation, following the specs README:
- `x-ms-enum.modelAsString: true` enums are open → the `enum` keyword is dropped;
- `x-nullable: true` → null is accepted;
- `readOnly` properties are never `required` in requests (clients don't send them);
- `discriminator` bases validate against the child named by the discriminator value, and a base's
  `additionalProperties` does not apply to the properties its children add;
- `2025-07-01/ConnectedEnvironments.json` references common types one `../` short → mapped;
- `2023-12-01/scheduledQueryRule_API.json`'s missing commonMonitoringTypes ErrorContract → ARM's
  common ErrorResponse.
Operations are found by api-version (`info.version`) and a case-insensitive match of the path
template. The response status must be declared, LRO headers declared for it must be present, and
bodies must validate."""

from __future__ import annotations

import copy
import functools
import json
import re
import threading
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import urldefrag, urljoin

from .specs_source import SPECS_ENV, Located, locate

LRO_HEADERS = ("Azure-AsyncOperation", "Location")
# Our own LRO status monitors are not described by the specs (ARM's generic contract).
OWN_ROUTES = re.compile(r"/locations/[^/]+/[a-z]*operation(statuses|results)/", re.IGNORECASE)


class SpecsUnavailable(FileNotFoundError):
    """No copy of the official specs could be found or fetched (the reason says what was tried)."""


@functools.lru_cache(maxsize=1)
def located() -> Located:
    return locate()


def specs_root() -> Path:
    where = located()
    if where.root is None:
        raise SpecsUnavailable(f"Azure REST specs not available: {where.reason}")
    return where.root


@dataclass(frozen=True)
class Operation:
    file: Path
    template: str
    method: str
    definition: dict[str, Any]

    @property
    def operation_id(self) -> str:
        return str(self.definition.get("operationId", ""))


def _template_regex(template: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[^}]+\})", template)
    body = "".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts)
    return re.compile("^" + body + "/?$", re.IGNORECASE)


class SpecIndex:
    """All spec files under the root, rewritten for validation in both directions."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = (root or specs_root()).resolve()
        if not (self.root / "specification").is_dir():
            raise SpecsUnavailable(f"Azure specs not found at {self.root} (set {SPECS_ENV})")
        self._raw: dict[str, Any] = {}
        for path in sorted((self.root / "specification").rglob("*.json")):
            if "examples" in path.parts:
                continue
            self._raw[path.as_uri()] = json.loads(path.read_text(encoding="utf-8"))
        self._fix_connected_environments_refs()
        self._fix_monitoring_error_refs()
        self._children = self._discriminator_children()
        self._lock = threading.Lock()
        self._registries: dict[str, Any] = {}

    def _fix_connected_environments_refs(self) -> None:
        common = (self.root / "specification" / "common-types").as_uri()
        for uri, doc in self._raw.items():
            if not uri.endswith("/2025-07-01/ConnectedEnvironments.json"):
                continue

            def fix(node: Any) -> Any:
                if isinstance(node, dict):
                    return {
                        k: (
                            common + v.split("common-types", 1)[1]
                            if k == "$ref"
                            and isinstance(v, str)
                            and v.startswith("../../../../../common-types")
                            else fix(v)
                        )
                        for k, v in node.items()
                    }
                if isinstance(node, list):
                    return [fix(v) for v in node]
                return node

            self._raw[uri] = fix(doc)

    def _fix_monitoring_error_refs(self) -> None:
        """scheduledQueryRule_API.json (2023-12-01) takes its error body from a commonMonitoringTypes.json
        the pinned slice does not hold; its ErrorContract is `{"error": ErrorResponse}`, the ARM common
        error body, so point it at common-types v2 ErrorResponse."""
        target = (
            self.root / "specification/common-types/resource-management/v2/types.json"
        ).as_uri() + "#/definitions/ErrorResponse"

        def fix(node: Any) -> Any:
            if isinstance(node, dict):
                return {
                    k: (
                        target
                        if k == "$ref" and isinstance(v, str) and "commonMonitoringTypes.json" in v
                        else fix(v)
                    )
                    for k, v in node.items()
                }
            if isinstance(node, list):
                return [fix(v) for v in node]
            return node

        for uri, doc in self._raw.items():
            if uri.endswith("/scheduledQueryRule_API.json"):
                self._raw[uri] = fix(doc)

    def _discriminator_children(self) -> dict[str, dict[str, str]]:
        """base definition URI → {discriminator value: child definition URI}."""
        children: dict[str, dict[str, str]] = {}
        for uri, doc in self._raw.items():
            for name, definition in (doc.get("definitions") or {}).items():
                for part in definition.get("allOf") or []:
                    ref = part.get("$ref") if isinstance(part, dict) else None
                    if not ref:
                        continue
                    base = urljoin(uri, ref)
                    value = definition.get("x-ms-discriminator-value", name)
                    children.setdefault(base, {})[value] = f"{uri}#/definitions/{name}"
        return children

    @cached_property
    def operations(self) -> dict[str, list[tuple[re.Pattern[str], Operation]]]:
        """api-version → [(path regex, operation)]."""
        index: dict[str, list[tuple[re.Pattern[str], Operation]]] = {}
        for uri, doc in self._raw.items():
            if "paths" not in doc:
                continue
            version = str((doc.get("info") or {}).get("version", ""))
            file = Path(uri.removeprefix("file://"))
            for template, item in (doc.get("paths") or {}).items():
                for method, definition in item.items():
                    if method == "parameters" or not isinstance(definition, dict):
                        continue
                    index.setdefault(version, []).append(
                        (_template_regex(template), Operation(file, template, method.upper(), definition))
                    )
        return index

    def find(self, method: str, path: str, api_version: str) -> Operation | None:
        best: Operation | None = None
        for pattern, op in self.operations.get(api_version, []):
            if op.method == method.upper() and pattern.match(path):
                literal = len(re.sub(r"\{[^}]+\}", "", op.template))
                if best is None or literal > len(re.sub(r"\{[^}]+\}", "", best.template)):
                    best = op
        return best

    def knows_version(self, api_version: str) -> bool:
        return api_version in self.operations

    # schema rewriting -----------------------------------------------------------------------------
    def _rewrite(self, node: Any, uri: str, request: bool) -> Any:
        if isinstance(node, list):
            return [self._rewrite(v, uri, request) for v in node]
        if not isinstance(node, dict):
            return node
        out = {k: self._rewrite(v, uri, request) for k, v in node.items()}
        if (node.get("x-ms-enum") or {}).get("modelAsString") and "enum" in out:
            del out["enum"]
        if node.get("x-nullable") is True:
            kind = out.get("type")
            if isinstance(kind, str):
                out["type"] = [kind, "null"]
            elif "$ref" in out:
                out = {"anyOf": [{"$ref": out.pop("$ref")}, {"type": "null"}], **out}
        if request and isinstance(out.get("required"), list) and isinstance(out.get("properties"), dict):
            props = node.get("properties") or {}
            out["required"] = [r for r in out["required"] if not (props.get(r) or {}).get("readOnly")]
            if not out["required"]:
                del out["required"]
        if "discriminator" in node and isinstance(node["discriminator"], str):
            out.pop("discriminator")
        if not request and isinstance(out.get("properties"), dict) and "nextLink" in out["properties"]:
            # ARM list responses carry `"nextLink": null` on the last page (the official examples do too)
            link = dict(out["properties"]["nextLink"])
            if isinstance(link.get("type"), str):
                link["type"] = [link["type"], "null"]
            out["properties"] = {**out["properties"], "nextLink": link}
        return out

    def _registry(self, request: bool) -> Any:
        from referencing import Registry, Resource
        from referencing.jsonschema import DRAFT4

        key = "request" if request else "response"
        with self._lock:
            if key not in self._registries:
                rewritten = {uri: self._rewrite(doc, uri, request) for uri, doc in self._raw.items()}
                self._split_polymorphic_bases(rewritten)
                for uri, doc in rewritten.items():
                    self._add_discriminator_dispatch(uri, doc)
                resources = [
                    (uri, Resource.from_contents(doc, default_specification=DRAFT4))
                    for uri, doc in rewritten.items()
                ]
                self._registries[key] = Registry().with_resources(resources)
            return self._registries[key]

    def _split_polymorphic_bases(self, docs: dict[str, dict[str, Any]]) -> None:
        """Children inherit a polymorphic base through allOf, and the base dispatches to its children:
        validating would loop. Children get a copy of the base's own properties (`<Base>__props`)
        instead, so only references to the base from outside dispatch."""
        import copy

        for uri, doc in self._raw.items():
            for name, definition in (doc.get("definitions") or {}).items():
                if not isinstance(definition.get("discriminator"), str):
                    continue
                base_uri = f"{uri}#/definitions/{name}"
                props_name = f"{name}__props"
                docs[uri]["definitions"][props_name] = copy.deepcopy(docs[uri]["definitions"][name])
                # A base's `additionalProperties` (AutoRest: "unmatched properties") must not refuse the
                # properties its children add; in draft-04 allOf it would (Insights metric criteria).
                docs[uri]["definitions"][props_name].pop("additionalProperties", None)
                for child in self._children.get(base_uri, {}).values():
                    child_doc_uri, fragment = urldefrag(child)
                    child_def = docs[child_doc_uri]["definitions"][fragment.rsplit("/", 1)[-1]]
                    for part in child_def.get("allOf") or []:
                        if (
                            isinstance(part, dict)
                            and part.get("$ref")
                            and urljoin(child_doc_uri, part["$ref"]) == base_uri
                        ):
                            part["$ref"] = f"{uri}#/definitions/{props_name}"

    def _add_discriminator_dispatch(self, uri: str, doc: dict[str, Any]) -> None:
        """Make a polymorphic base validate the child its discriminator names (draft-04 has no
        `discriminator`): base → allOf[base-props, oneOf-by-value]."""
        for name, definition in list((doc.get("definitions") or {}).items()):
            prop = self._raw[uri].get("definitions", {}).get(name, {}).get("discriminator")
            if not isinstance(prop, str):
                continue
            children = self._children.get(f"{uri}#/definitions/{name}", {})
            if children:  # the child named by the value validates its own, larger property set
                definition.pop("additionalProperties", None)
            # draft-04 has no if/then: express "value → child" as anyOf(not that value, child)
            definition.setdefault("allOf", [])
            for value, child in children.items():
                definition["allOf"].append(
                    {
                        "anyOf": [
                            {"not": {"properties": {prop: {"enum": [value]}}, "required": [prop]}},
                            {"$ref": child},
                        ]
                    }
                )

    def validate(self, schema: dict[str, Any], file: Path, instance: Any, request: bool) -> list[str]:
        import jsonschema

        absolute = _absolutize(schema, file.as_uri())
        validator = jsonschema.Draft4Validator(
            absolute, registry=self._registry(request), format_checker=jsonschema.FormatChecker()
        )
        errors = []
        for error in validator.iter_errors(instance):
            where = "/".join(str(p) for p in error.absolute_path) or "(root)"
            errors.append(f"{where}: {error.message[:300]}")
        return errors[:20]

    def resolve_parameter(self, param: dict[str, Any], file: Path) -> dict[str, Any]:
        if "$ref" not in param:
            return param
        target = urljoin(file.as_uri(), param["$ref"])
        doc_uri, fragment = urldefrag(target)
        node: Any = self._raw[doc_uri]
        for part in fragment.lstrip("/").split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return copy.deepcopy(node)


def _absolutize(node: Any, base: str) -> Any:
    if isinstance(node, list):
        return [_absolutize(v, base) for v in node]
    if isinstance(node, dict):
        return {
            k: (urljoin(base, v) if k == "$ref" and isinstance(v, str) else _absolutize(v, base))
            for k, v in node.items()
        }
    return node


_shared_index: SpecIndex | None = None
_shared_lock = threading.Lock()


def shared_index(root: Path | None = None) -> SpecIndex:
    global _shared_index
    with _shared_lock:
        if _shared_index is None or (root is not None and _shared_index.root != root.resolve()):
            _shared_index = SpecIndex(root)
        return _shared_index


class SpecValidator:
    """`check(...)` returns human-readable violations for one request/response exchange."""

    def __init__(self, root: Path | None = None) -> None:
        self.index = shared_index(root)

    def check(
        self,
        method: str,
        path: str,
        api_version: str,
        request_body: Any,
        status: int,
        response_body: Any,
        headers: dict[str, str] | None = None,
    ) -> list[str]:
        if OWN_ROUTES.search(path) or not self.index.knows_version(api_version):
            return []
        op = self.index.find(method, path, api_version)
        if op is None:
            code = (
                ((response_body or {}).get("error") or {}).get("code")
                if isinstance(response_body, dict)
                else None
            )
            if status in (404, 405) and code in ("InvalidResourceType", "MethodNotAllowed"):
                return []  # ARM's own answer for routes no spec declares
            return [f"no operation in the {api_version} specs matches {method} {path}"]
        return self.check_request(op, request_body) + self.check_response(
            op, status, response_body, headers or {}
        )

    def check_request(self, op: Operation, body: Any) -> list[str]:
        params = [self.index.resolve_parameter(p, op.file) for p in op.definition.get("parameters") or []]
        body_params = [p for p in params if p.get("in") == "body"]
        if not body_params:
            return (
                []
                if body in (None, {})
                else [f"{op.operation_id}: request has a body but the spec declares none"]
            )
        param = body_params[0]
        if body is None:
            return [f"{op.operation_id}: request body is required"] if param.get("required") else []
        return [
            f"{op.operation_id} request: {e}"
            for e in self.index.validate(param["schema"], op.file, body, True)
        ]

    def check_response(self, op: Operation, status: int, body: Any, headers: dict[str, str]) -> list[str]:
        responses = op.definition.get("responses") or {}
        declared = responses.get(str(status))
        if declared is None:
            if status < 400 or "default" not in responses:
                return [
                    f"{op.operation_id}: status {status} is not declared (declared: {', '.join(responses)})"
                ]
            declared = responses["default"]
        problems = []
        lower = {k.lower() for k in headers}
        for name in declared.get("headers") or {}:
            if name in LRO_HEADERS and name.lower() not in lower:
                problems.append(f"{op.operation_id}: status {status} must carry the {name} header")
        schema = declared.get("schema")
        if schema is None:
            return problems
        if body is None:
            return problems + [f"{op.operation_id}: status {status} must have a body"]
        return problems + [
            f"{op.operation_id} response {status}: {e}"
            for e in self.index.validate(schema, op.file, body, False)
        ]
