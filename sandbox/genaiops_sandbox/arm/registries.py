"""Microsoft.ContainerRegistry/registries and Registries_ImportImage over the registry fleet
(one real distribution registry behind an ACR-shaped front per registry resource)."""

from __future__ import annotations

import logging
import threading
from typing import Any

from .common import Response, now_iso
from .errors import ArmError, bad_request, not_found
from .names import check_registry_name

log = logging.getLogger("genaiops.sandbox.arm")
REGISTRY_TYPE = "Microsoft.ContainerRegistry/registries"
SKU_TIERS = {"basic": "Basic", "standard": "Standard", "premium": "Premium"}


class RegistriesMixin:
    store: Any
    fleet: Any

    def add_registry_routes(self, r: Any, acr: str, sub: str) -> None:
        g = acr + "/(?P<name>[^/]+)"
        r("PUT", g, "microsoft.containerregistry", self.put_registry)
        r("PATCH", g, "microsoft.containerregistry", self.patch_registry)
        r("GET", g, "microsoft.containerregistry", self.get_registry)
        r("DELETE", g, "microsoft.containerregistry", self.delete_registry)
        r("GET", acr, "microsoft.containerregistry", self.list_registries)
        r(
            "GET",
            sub + r"/providers/microsoft\.containerregistry/registries",
            "microsoft.containerregistry",
            self.list_registries,
        )
        r("POST", g + "/importimage", "microsoft.containerregistry", self.import_image)

    def registry_id(self, rg: str, name: str) -> str:
        return f"{self.rg_id(rg)}/providers/Microsoft.ContainerRegistry/registries/{name}"  # type: ignore[attr-defined]

    def require_registry(self, rg: str, name: str) -> dict[str, Any]:
        record = self.store.get(self.registry_id(rg, name))
        if record is None:
            raise not_found(REGISTRY_TYPE, name, rg)
        return record

    def _fleet(self) -> Any:
        if self.fleet is None:
            raise ArmError(500, "SandboxRegistryUnavailable", "The sandbox has no registry fleet configured.")
        return self.fleet

    def put_registry(self, body: Any, query: dict[str, str], rg: str, name: str) -> Response:
        body = body or {}
        check_registry_name(name)
        sku = (body.get("sku") or {}).get("name")
        if not sku or sku.lower() not in SKU_TIERS:
            raise bad_request(
                "InvalidSku", "The sku name is required and must be one of Basic, Standard, Premium."
            )
        with self.store.lock:
            existing = self.store.get(self.registry_id(rg, name))
            if existing is None:
                clash = [
                    r
                    for r in self.store.list(self.sub_id(), REGISTRY_TYPE)  # type: ignore[attr-defined]
                    if r["body"]["name"].lower() == name.lower()
                ]
                if clash:
                    raise bad_request("AlreadyInUse", f"The registry {name} is already in use.")
            rid = existing["id"] if existing else self.registry_id(rg, name)
            name = existing["body"]["name"] if existing else name
            endpoint = self._fleet().ensure(name.lower())
            out = self.tracked_body(rid, name, REGISTRY_TYPE, body, existing)  # type: ignore[attr-defined]
            out["sku"] = {"name": SKU_TIERS[sku.lower()], "tier": SKU_TIERS[sku.lower()]}
            props = dict(body.get("properties") or {})
            props.update(
                {
                    "loginServer": endpoint.login_server,
                    "creationDate": existing["body"]["properties"]["creationDate"] if existing else now_iso(),
                    "provisioningState": "Succeeded" if existing else "Creating",
                    "adminUserEnabled": bool(props.get("adminUserEnabled", False)),
                    "publicNetworkAccess": props.get("publicNetworkAccess", "Enabled"),
                    "zoneRedundancy": props.get("zoneRedundancy", "Disabled"),
                    "anonymousPullEnabled": bool(props.get("anonymousPullEnabled", False)),
                    "dataEndpointEnabled": False,
                    "dataEndpointHostNames": [],
                }
            )
            out["properties"] = props
            self.store.put(rid, {"id": rid, "type": REGISTRY_TYPE, "body": out})
            if existing:
                return Response(200, out)
            op = self.start_operation(
                "Microsoft.ContainerRegistry",
                body["location"],
                "registry",
                rid,  # type: ignore[attr-defined]
                query["api-version"],
                result="resource",
            )
        # Registries_Create: 201 + Azure-AsyncOperation
        return Response(201, out, self.lro_headers(op, async_op=True))  # type: ignore[attr-defined]

    def advance_registry(self, op: dict[str, Any]) -> None:
        record = self.store.get(op["target"])
        if record is not None:
            record["body"]["properties"]["provisioningState"] = "Succeeded"
            self.store.put(record["id"], record)
        self.finish_operation(op, "Succeeded")  # type: ignore[attr-defined]

    def patch_registry(self, body: Any, query: dict[str, str], rg: str, name: str) -> Response:
        with self.store.lock:
            record = self.require_registry(rg, name)
            body = body or {}
            if "tags" in body:
                record["body"]["tags"] = body["tags"]
            for key in ("adminUserEnabled", "anonymousPullEnabled", "publicNetworkAccess"):
                if key in (body.get("properties") or {}):
                    record["body"]["properties"][key] = body["properties"][key]
            self.store.put(record["id"], record)
        return Response(200, record["body"])

    def get_registry(self, body: Any, query: dict[str, str], rg: str, name: str) -> Response:
        return Response(200, self.require_registry(rg, name)["body"])

    def list_registries(self, body: Any, query: dict[str, str], rg: str | None = None) -> Response:
        prefix = self.rg_id(rg) if rg else self.sub_id()  # type: ignore[attr-defined]
        return Response(200, {"value": [r["body"] for r in self.store.list(prefix, REGISTRY_TYPE)]})

    def delete_registry(self, body: Any, query: dict[str, str], rg: str, name: str) -> Response:
        with self.store.lock:
            record = self.store.get(self.registry_id(rg, name))
            if record is None:
                return Response(204, None)
            self.release_resource(record)  # type: ignore[attr-defined]
            self.store.delete(record["id"])
            op = self.finished_operation(
                "Microsoft.ContainerRegistry", record["body"]["location"], record["id"], query["api-version"]
            )  # type: ignore[attr-defined]
        return Response(202, None, self.lro_headers(op, location=True))  # type: ignore[attr-defined]

    # importImage ----------------------------------------------------------------------------------
    def _source_login_server(self, source: dict[str, Any]) -> str:
        if source.get("resourceId"):
            record = self.store.get(source["resourceId"])
            if record is None or record["type"] != REGISTRY_TYPE:
                raise bad_request(
                    "InvalidParameters", f"Source registry '{source['resourceId']}' was not found."
                )
            return str(record["body"]["properties"]["loginServer"])
        if source.get("registryUri"):
            return str(source["registryUri"]).removeprefix("https://").rstrip("/")
        raise bad_request(
            "InvalidParameters", "Either source.resourceId or source.registryUri must be specified."
        )

    def import_image(self, body: Any, query: dict[str, str], rg: str, name: str) -> Response:
        body = body or {}
        source = body.get("source") or {}
        if not source.get("sourceImage"):
            raise bad_request("InvalidParameters", "source.sourceImage is required.")
        mode = body.get("mode") or "NoForce"
        if mode not in ("NoForce", "Force"):
            raise bad_request("InvalidParameters", f"Invalid import mode '{mode}'.")
        with self.store.lock:
            record = self.require_registry(rg, name)
            login_server = self._source_login_server(source)
            target_tags = list(body.get("targetTags") or [])
            if not target_tags and not body.get("untaggedTargetRepositories"):
                image = source["sourceImage"]
                if "@" not in image:  # ACR keeps the source repo:tag when no target is named
                    target_tags = [image if ":" in image.split("/")[-1] else image + ":latest"]
            op = self.start_operation(
                "Microsoft.ContainerRegistry",
                record["body"]["location"],
                "import",  # type: ignore[attr-defined]
                record["id"],
                query["api-version"],
                result_status=200,
            )
        fleet = self._fleet()
        registry_name = record["body"]["name"].lower()

        def run() -> None:
            error = None
            try:
                fleet.import_image(
                    target=registry_name,
                    source_login_server=login_server,
                    source_image=source["sourceImage"],
                    target_tags=target_tags,
                    force=(mode == "Force"),
                )
            except Exception as exc:
                code = getattr(exc, "code", None) or "InternalServerError"
                error = {"code": code, "message": getattr(exc, "message", None) or str(exc)}
                if code == "InternalServerError":
                    log.exception("import into %s failed", registry_name)
            with self.store.lock:
                current = self.store.get_operation(op["name"]) or op
                if error:
                    current["http_status"] = 409 if error["code"] in ("TagAlreadyExists", "Conflict") else 400
                    self.finish_operation(current, "Failed", error)  # type: ignore[attr-defined]
                else:
                    self.finish_operation(current, "Succeeded")  # type: ignore[attr-defined]

        threading.Thread(target=run, name=f"import-{op['name']}", daemon=True).start()
        # Registries_ImportImage: 202 + Location
        return Response(202, None, self.lro_headers(op, location=True))  # type: ignore[attr-defined]

    def advance_import(self, op: dict[str, Any]) -> None:
        """The import thread finishes the operation; a daemon restart mid-import loses the thread."""
        if not any(t.name == f"import-{op['name']}" for t in threading.enumerate()):
            self.finish_operation(
                op,
                "Failed",
                {
                    "code": "InternalServerError",  # type: ignore[attr-defined]
                    "message": "The import was interrupted by a sandbox restart.",
                },
            )
