"""Microsoft.Resources deployments at resource-group scope (api-version 2026-06-01): PUT as a
long-running operation, GET, list, delete, operations, validate and what-if, over the template engine.

Emulated types (managed environments, registries, ...) are PUT through the stand-in's own handlers, so a
deployed registry is a real registry process and a deployed environment is the one Container Apps use.
Every other type is stored as a plain resource (`templates.generic.materialise`) and served by a generic GET.

A deployment runs in a background thread (ARM runs deployments asynchronously too) and records one
deployment operation per resource as it finishes, so clients can follow progress by listing operations.
Its LRO is settled by that thread; a daemon restart mid-deployment marks it Failed rather than hanging."""

from __future__ import annotations

import copy
import logging
import re
import threading
import time
import uuid
from typing import Any
from urllib.parse import urlsplit

from . import role_assignments
from .common import Response, now_iso
from .errors import ArmError, bad_request

log = logging.getLogger("genaiops.sandbox.arm")

DEPLOYMENT_TYPE = "Microsoft.Resources/deployments"
# Namespaces whose resources go through the stand-in's own handlers (see api.API_VERSIONS).
EMULATED_NAMESPACES = ("microsoft.app", "microsoft.containerregistry")
TERMINAL = ("Succeeded", "Failed", "Canceled")
STORAGE_NAME = re.compile(r"^[a-z0-9]{3,24}$")
# Write-only secrets an emulated handler would otherwise echo on GET (Azure never returns them).
WRITE_ONLY = {
    "microsoft.app/managedenvironments": ("appLogsConfiguration", "logAnalyticsConfiguration", "sharedKey")
}


class DeploymentsMixin:
    store: Any
    subscription_id: str
    tenant_id: str
    _deployment_threads: dict[str, threading.Thread]

    # routes ---------------------------------------------------------------------------------------
    def add_deployment_routes(self, r: Any, rg: str) -> None:
        self._deployment_threads = {}
        d = rg + r"/providers/microsoft\.resources/deployments"
        one = d + "/(?P<name>[^/]+)"
        ns = "microsoft.resources"
        r("GET", d, ns, self.list_deployments)
        r("PUT", one, ns, self.put_deployment)
        r("GET", one, ns, self.get_deployment)
        r("HEAD", one, ns, self.head_deployment)
        r("DELETE", one, ns, self.delete_deployment)
        r("POST", one + "/whatif", ns, self.what_if_deployment)
        r("POST", one + "/validate", ns, self.validate_deployment)
        # DeploymentOperations_* live under .../resourcegroups/{rg}/deployments/{name}/operations.
        ops = rg + "/deployments/(?P<name>[^/]+)/operations"
        r("GET", ops, ns, self.list_deployment_operations)
        r("GET", ops + "/(?P<op_id>[^/]+)", ns, self.get_deployment_operation)
        # Plain resources a template created (and extension resources such as role assignments on anything).
        r("GET", rg + r"/providers/(?P<gpath>.+/providers/.+)", ns, self.get_plain_resource)
        r(
            "GET",
            rg + r"/providers/(?P<gpath>(?!microsoft\.(?:app|containerregistry|resources)/)[^/]+/.+)",
            ns,
            self.get_plain_resource,
        )

    # helpers --------------------------------------------------------------------------------------
    def _context(self, rg: str, name: str) -> Any:
        from ..templates import DeploymentContext

        group = self.require_rg(rg)["body"]  # type: ignore[attr-defined]
        return DeploymentContext(
            subscription_id=self.subscription_id,
            resource_group=group["name"],
            resource_group_location=group["location"],
            deployment_name=name,
            tenant_id=self.tenant_id,
            resource_group_tags=dict(group.get("tags") or {}),
        )

    def _deployment_id(self, rg: str, name: str) -> str:
        return f"{self.rg_id(rg)}/providers/Microsoft.Resources/deployments/{name}"  # type: ignore[attr-defined]

    def _require_deployment(self, rg: str, name: str) -> dict[str, Any]:
        record = self.store.get(self._deployment_id(rg, name))
        if record is None:
            raise ArmError(404, "DeploymentNotFound", f"Deployment '{name}' could not be found.")
        return record

    @staticmethod
    def _request(body: Any) -> tuple[Any, dict[str, Any], str]:
        props = (body or {}).get("properties")
        if not isinstance(props, dict):
            raise bad_request("InvalidRequestContent", "The request content must have a 'properties' object.")
        if props.get("templateLink") or props.get("parametersLink"):
            raise bad_request(
                "InvalidTemplateLink",
                "The stand-in only accepts inline templates and parameters (properties.template / "
                "properties.parameters), not templateLink/parametersLink.",
            )
        template = props.get("template")
        if template is None:
            raise bad_request("InvalidTemplate", "The deployment properties must contain 'template'.")
        mode = str(props.get("mode") or "Incremental")
        if mode not in ("Incremental", "Complete"):
            raise bad_request("InvalidDeploymentMode", f"The deployment mode '{mode}' is not valid.")
        return template, dict(props.get("parameters") or {}), mode

    @staticmethod
    def _template_error(exc: Any) -> Response:
        return Response(400, {"error": exc.to_arm()})

    def render_deployments(self, record: dict[str, Any]) -> dict[str, Any]:
        return record["body"]

    # PUT ------------------------------------------------------------------------------------------
    def put_deployment(self, body: Any, query: dict[str, str], rg: str, name: str) -> Response:
        from ..templates import TemplateError, normalize_parameters, validate

        template, parameters, mode = self._request(body)
        if mode != "Incremental":
            raise bad_request(
                "InvalidDeploymentMode",
                "The stand-in deploys in Incremental mode only (Complete mode is supported by what-if).",
            )
        context = self._context(rg, name)
        try:
            validate(template, parameters, context)
            echoed = normalize_parameters(parameters)
        except TemplateError as exc:
            return self._template_error(exc)
        with self.store.lock:
            rid = self._deployment_id(rg, name)
            existing = self.store.get(rid)
            if existing and existing["body"]["properties"]["provisioningState"] not in TERMINAL:
                raise ArmError(
                    409,
                    "DeploymentActive",
                    f"The deployment '{name}' is already running. Wait for it to finish or cancel it.",
                )
            out = {
                "id": rid,
                "name": name,
                "type": DEPLOYMENT_TYPE,
                "location": context.resource_group_location,
                "properties": {
                    "provisioningState": "Accepted",
                    "correlationId": str(uuid.uuid4()),
                    "timestamp": now_iso(),
                    "duration": "PT0S",
                    "mode": mode,
                    "parameters": {k: {"value": v} for k, v in echoed.items()},
                    "dependencies": [],
                    "providers": [],
                    "templateHash": str(abs(hash(str(template))) % 10**19),
                },
            }
            if (body or {}).get("tags"):
                out["tags"] = body["tags"]
            op = self.start_operation(  # type: ignore[attr-defined]
                "Microsoft.Resources",
                context.resource_group_location,
                "deployment",
                rid,
                query["api-version"],
                result="resource",
            )
            self.store.put(
                rid, {"id": rid, "type": DEPLOYMENT_TYPE, "body": out, "operations": [], "op": op["name"]}
            )
            worker = threading.Thread(
                target=self._run_deployment,
                args=(rid, template, parameters, context, op["name"]),
                name=f"deployment-{name}",
                daemon=True,
            )
            self._deployment_threads[rid.lower()] = worker
            worker.start()
        headers = self.lro_headers(op, async_op=True, location=True)  # type: ignore[attr-defined]
        return Response(201, out, headers)

    def _run_deployment(
        self, rid: str, template: Any, parameters: dict[str, Any], context: Any, op_name: str
    ) -> None:
        from ..templates import deploy

        self._set_state(rid, "Running")

        def on_operation(operation: dict[str, Any]) -> None:
            with self.store.lock:
                record = self.store.get(rid)
                record["operations"].append(operation)
                self.store.put(rid, record)

        try:
            result = deploy(
                template,
                parameters,
                context,
                lambda req: self._apply_template_resource(req),
                get_resource=self._template_get,
                list_keys=self._template_list_keys,
                on_operation=on_operation,
            )
            state, error = result.provisioning_state, result.error
            update: dict[str, Any] = {
                "outputs": result.outputs,
                "outputResources": result.output_resources,
                "parameters": result.parameters,
                "duration": result.duration,
                "dependencies": result.dependencies,
            }
        except Exception as exc:
            log.exception("deployment %s crashed", rid)
            state = "Failed"
            error = {
                "code": "InternalServerError",
                "message": f"The stand-in's deployment engine failed: {exc!r}",
            }
            update = {}
        with self.store.lock:
            record = self.store.get(rid)
            props = record["body"]["properties"]
            props.update(update)
            if state != "Succeeded":
                props.pop("outputs", None)
            props["provisioningState"] = state
            if error:
                props["error"] = error
            self.store.put(rid, record)
            op = self.store.get_operation(op_name)
            if op is not None:
                self.finish_operation(op, state, error)  # type: ignore[attr-defined]
            self._deployment_threads.pop(rid.lower(), None)

    def _set_state(self, rid: str, state: str) -> None:
        with self.store.lock:
            record = self.store.get(rid)
            record["body"]["properties"]["provisioningState"] = state
            self.store.put(rid, record)

    def advance_deployment(self, op: dict[str, Any]) -> None:
        """Called under the store lock on every poll; the worker thread settles the operation itself."""
        worker = self._deployment_threads.get(op["target"].lower())
        if worker is not None and worker.is_alive():
            return
        record = self.store.get(op["target"])
        error = {
            "code": "DeploymentInterrupted",
            "message": "The stand-in restarted while this deployment was running; deploy it again.",
        }
        if record is not None and record["body"]["properties"]["provisioningState"] not in TERMINAL:
            record["body"]["properties"].update(provisioningState="Failed", error=error)
            self.store.put(record["id"], record)
        fresh = self.store.get_operation(op["name"])
        if fresh and fresh["status"] != "InProgress":
            op.update(fresh)
            return
        self.finish_operation(op, "Failed", error)  # type: ignore[attr-defined]

    # applying one template resource ---------------------------------------------------------------
    def _apply_template_resource(self, req: Any) -> dict[str, Any]:
        from ..templates import ResourceApplyError

        namespace = req.type.split("/")[0].lower()
        if namespace in EMULATED_NAMESPACES:
            return self._apply_emulated(req)
        try:
            return self._apply_plain(req)
        except ArmError as err:
            raise ResourceApplyError(err.code, err.message, err.status) from None

    def _apply_emulated(self, req: Any) -> dict[str, Any]:
        from ..templates import ResourceApplyError

        body = copy.deepcopy(req.body)
        path = WRITE_ONLY.get(req.type.lower())
        if path:
            node = body.get("properties") or {}
            for key in path[:-1]:
                node = node.get(key) or {} if isinstance(node, dict) else {}
            if isinstance(node, dict):
                node.pop(path[-1], None)
        try:
            response = self.handle("PUT", req.resource_id, {"api-version": req.api_version}, body)  # type: ignore[attr-defined]
            self._settle(response)
            return self.render(req.resource_id)  # type: ignore[attr-defined]
        except ArmError as err:
            raise ResourceApplyError(err.code, err.message, err.status) from None

    def _settle(self, response: Response) -> None:
        """Drive a handler's own LRO to its end, as ARM waits for each resource provider."""
        from ..templates import ResourceApplyError

        url = response.headers.get("Azure-AsyncOperation") or response.headers.get("Location")
        if not url:
            return
        op_id = urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1]
        deadline = time.monotonic() + 300
        while True:
            with self.store.lock:
                op = self.store.get_operation(op_id)
                if op is None:
                    return
                op = self.advance_operation(op)  # type: ignore[attr-defined]
            if op["status"] == "Failed":
                err = op.get("error") or {}
                raise ResourceApplyError(
                    str(err.get("code", "ResourceDeploymentFailure")),
                    str(err.get("message", "The resource operation failed.")),
                    int(op.get("http_status", 400)),
                )
            if op["status"] != "InProgress":
                return
            if time.monotonic() > deadline:
                raise ResourceApplyError(
                    "ResourceDeploymentTimeout", "The resource operation did not finish.", 500
                )
            time.sleep(0.05)

    def _apply_plain(self, req: Any) -> dict[str, Any]:
        from ..templates.generic import materialise

        rtype = req.type.lower()
        if rtype == "microsoft.storage/storageaccounts" and not STORAGE_NAME.match(req.name):
            raise bad_request(
                "AccountNameInvalid",
                f"{req.name} is not a valid storage account name. Storage account name must be between 3 "
                f"and 24 characters in length and use numbers and lower-case letters only.",
            )
        if rtype == role_assignments.TYPE:
            role_assignments.check(self.store, req.resource_id, req.name, req.body)
        if req.scope and self.store.get(req.scope) is None:
            raise ArmError(404, "ResourceNotFound", f"The scope resource '{req.scope}' was not found.")
        if "/" in req.type.split("/", 1)[1]:  # a child resource needs its parent
            parent = req.resource_id.rsplit("/", 2)[0]
            if self.store.get(parent) is None:
                raise ArmError(
                    404, "ParentResourceNotFound", f"The parent resource '{parent}' was not found."
                )
        with self.store.lock:
            existing = self.store.get(req.resource_id)
            rid = existing["id"] if existing else req.resource_id
            out = materialise(
                rid,
                req.type,
                req.name,
                req.body,
                tenant_id=self.tenant_id,
                existing=existing["body"] if existing else None,
                foundry_url=getattr(self, "foundry_url", None),
                vault_uri=getattr(getattr(self, "vaults", None), "ensure", None),
                ingestion_url=getattr(self, "ingestion_url", None),
            )
            self.store.put(rid, {"id": rid, "type": req.type, "body": out, "plain": True})
        return out

    def _template_get(self, rid: str, _api_version: str | None) -> dict[str, Any] | None:
        record = self.store.get(rid)
        if record is None:
            return None
        return self.render(record["id"])  # type: ignore[attr-defined]

    def _template_list_keys(self, rid: str, _api_version: str) -> dict[str, Any]:
        from ..templates.generic import list_keys

        record = self.store.get(rid)
        if record is None:
            raise ArmError(404, "ResourceNotFound", f"The Resource '{rid}' was not found.")
        return list_keys(record["id"], record["type"])

    # GET / list / HEAD / DELETE ------------------------------------------------------------------
    def get_deployment(self, body: Any, query: dict[str, str], rg: str, name: str) -> Response:
        return Response(200, self._require_deployment(rg, name)["body"])

    def head_deployment(self, body: Any, query: dict[str, str], rg: str, name: str) -> Response:
        exists = self.store.get(self._deployment_id(rg, name)) is not None
        return Response(204 if exists else 404, None)

    def list_deployments(self, body: Any, query: dict[str, str], rg: str) -> Response:
        found = self.store.list(self.rg_id(rg), DEPLOYMENT_TYPE)  # type: ignore[attr-defined]
        return Response(200, {"value": [r["body"] for r in found]})

    def delete_deployment(self, body: Any, query: dict[str, str], rg: str, name: str) -> Response:
        """Deletes the deployment's history only, never its resources (as ARM)."""
        with self.store.lock:
            record = self.store.get(self._deployment_id(rg, name))
            if record is None:
                return Response(204, None)
            if record["body"]["properties"]["provisioningState"] not in TERMINAL:
                raise ArmError(409, "DeploymentActive", f"The deployment '{name}' is still running.")
            self.store.delete(record["id"])
        return Response(204, None)

    def list_deployment_operations(self, body: Any, query: dict[str, str], rg: str, name: str) -> Response:
        return Response(200, {"value": self._require_deployment(rg, name)["operations"]})

    def get_deployment_operation(
        self, body: Any, query: dict[str, str], rg: str, name: str, op_id: str
    ) -> Response:
        for op in self._require_deployment(rg, name)["operations"]:
            if op["operationId"].lower() == op_id.lower():
                return Response(200, op)
        raise ArmError(
            404, "DeploymentOperationNotFound", f"Deployment operation '{op_id}' could not be found."
        )

    def get_plain_resource(self, body: Any, query: dict[str, str], rg: str, gpath: str) -> Response:
        rid = f"{self.rg_id(rg)}/providers/{gpath}"  # type: ignore[attr-defined]
        record = self.store.get(rid)
        if record is None or not record.get("plain"):
            raise ArmError(
                404,
                "ResourceNotFound",
                f"The Resource '{gpath}' under resource group '{rg}' was not found. "
                "For more details please go to https://aka.ms/ARMResourceNotFoundFix",
            )
        return Response(200, record["body"])

    # validate / what-if ---------------------------------------------------------------------------
    def validate_deployment(self, body: Any, query: dict[str, str], rg: str, name: str) -> Response:
        from ..templates import TemplateError, normalize_parameters, validate

        template, parameters, mode = self._request(body)
        context = self._context(rg, name)
        rid = self._deployment_id(rg, name)
        envelope = {"id": rid, "name": name, "type": DEPLOYMENT_TYPE}
        try:
            planned = validate(template, parameters, context)
        except TemplateError as exc:
            return Response(400, {**envelope, "error": exc.to_arm()})
        echoed = normalize_parameters(parameters)
        return Response(
            200,
            {
                **envelope,
                "properties": {
                    "provisioningState": "Succeeded",
                    "correlationId": str(uuid.uuid4()),
                    "timestamp": now_iso(),
                    "duration": "PT0S",
                    "mode": mode,
                    "parameters": {k: {"value": v} for k, v in echoed.items()},
                    "validatedResources": [{"id": p["id"]} for p in planned],
                },
            },
        )

    def resources_in_group(self, rg: str) -> dict[str, dict[str, Any]]:
        """What ARM's what-if compares against: the group's top-level resources and the plain ones."""
        prefix = self.rg_id(rg).lower() + "/"  # type: ignore[attr-defined]
        out: dict[str, dict[str, Any]] = {}
        for record in self.store.all():
            rid = record["id"]
            if not rid.lower().startswith(prefix) or record.get("type") == DEPLOYMENT_TYPE:
                continue
            if record.get("plain"):
                out[rid] = record["body"]
            elif record.get("type", "").count("/") == 1:
                out[rid] = self.render(rid)  # type: ignore[attr-defined]
        return out

    def what_if_deployment(self, body: Any, query: dict[str, str], rg: str, name: str) -> Response:
        from ..templates import TemplateError, what_if

        template, parameters, mode = self._request(body)
        context = self._context(rg, name)
        try:
            result = what_if(template, parameters, context, self.resources_in_group(rg), mode=mode)
        except TemplateError as exc:
            return self._template_error(exc)
        with self.store.lock:
            op = self.start_operation(  # type: ignore[attr-defined]
                "Microsoft.Resources",
                context.resource_group_location,
                "done",
                self._deployment_id(rg, name),
                query["api-version"],
                result=result,
            )
            self.finish_operation(op, "Succeeded")  # type: ignore[attr-defined]
        # Deployments_WhatIf: 202 + Location (final-state-via location)
        return Response(202, None, self.lro_headers(op, location=True))  # type: ignore[attr-defined]
