"""The ARM REST surface: routing, api-version checks, resource groups, Container Apps environments
and the long-running-operation machinery. Apps, jobs and registries live in their own mixins.

Long-running operations are advanced lazily: each poll of an operation (or GET of its resource)
asks the runtime/fleet where the work stands. No background scheduler, so a poll with
Retry-After 0 sees the result as soon as the runtime does."""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable
from typing import Any

from ..faults import FaultTable
from ..monitor.insights import API_VERSIONS as INSIGHTS_API_VERSIONS
from ..monitor.insights import InsightsMixin
from .apps import AppsMixin
from .common import Response, default_domain, echo_identity, now_iso, system_data
from .deployments import DeploymentsMixin
from .errors import ArmError, bad_request, invalid_parameter, not_found
from .job_runs import PREVIEW_API_VERSIONS, PREVIEW_NAMESPACE, JobRunsMixin
from .jobs import JobsMixin
from .names import check_environment_name, check_resource_group_name
from .registries import RegistriesMixin
from .store import ResourceStore
from .tasks import NAMESPACE as TASKS_NAMESPACE
from .tasks import TasksMixin

log = logging.getLogger("genaiops.sandbox.arm")

# Every published version whose shape ../shared/azure-specs holds: the Python SDK sends 2026-07-01,
# the az CLI and Terraform send 2025-07-01. The two shapes agree on everything the stand-in serves.
API_VERSIONS = {
    "microsoft.app": {"2025-07-01", "2026-07-01"},
    PREVIEW_NAMESPACE: PREVIEW_API_VERSIONS,  # job replicas and log-stream tokens (az's preview calls)
    "microsoft.containerregistry": {"2025-11-01"},
    TASKS_NAMESPACE: {"2025-03-01-preview"},  # ACR Tasks (azure-mgmt-containerregistrytasks)
    **INSIGHTS_API_VERSIONS,  # Microsoft.Insights: one set per resource type
}
# azure-mgmt-resource and az send various versions for resource groups; ARM accepts many.
RESOURCES_API_VERSION = re.compile(r"^20\d\d-\d\d-\d\d(-preview)?$")
API_VERSION_SHAPE = RESOURCES_API_VERSION
# ARM's status monitors are per resource type (`containerappOperationStatuses`, ...): the name a
# client sees in Azure-AsyncOperation / Location, and the provider's `locations/*` resource types.
MONITOR_PREFIX = {
    "microsoft.app/containerapps": "containerapp",
    "microsoft.app/managedenvironments": "managedEnvironment",
    "microsoft.app/connectedenvironments": "connectedEnvironment",
    "microsoft.app/jobs": "containerappsjob",
}
PROVIDER_TYPES = {
    "Microsoft.App": [
        "managedEnvironments",
        "connectedEnvironments",
        "containerApps",
        "containerApps/revisions",
        "jobs",
        "locations",
        *(f"locations/{p}Operation{k}" for p in MONITOR_PREFIX.values() for k in ("Statuses", "Results")),
    ],
    "Microsoft.ContainerRegistry": ["registries", "locations", "locations/operationResults"],
}
# Any location is served; these are the regions the provider document lists (az checks the one it
# is given against this list before it creates anything).
REGIONS = (
    "East US", "East US 2", "West US", "West US 2", "West US 3", "Central US", "North Central US",
    "South Central US", "West Central US", "Canada Central", "Canada East", "Brazil South",
    "North Europe", "West Europe", "UK South", "UK West", "France Central", "Germany West Central",
    "Switzerland North", "Norway East", "Sweden Central", "Poland Central", "Italy North",
    "East Asia", "Southeast Asia", "Japan East", "Japan West", "Korea Central", "Australia East",
    "Central India", "South India", "UAE North", "South Africa North",
)  # fmt: skip
# How long a status poll may wait server-side for a running operation to finish. Clients sleep
# Retry-After (>= 1 s, an integer as Azure sends it) before polling; holding the poll lets an
# operation that ends meanwhile answer at once instead of one more Retry-After later (with
# Retry-After 0, the tests' setting, polls answer at once).
POLL_HOLD_SECONDS = 3.0

_SUB = r"/subscriptions/(?P<sub>[^/]+)"
_RG = _SUB + r"/resourcegroups/(?P<rg>[^/]+)"
_APP = _RG + r"/providers/microsoft\.app"
_ACR = _RG + r"/providers/microsoft\.containerregistry/registries"

Handler = Callable[..., Response]


class ArmApi(
    AppsMixin, JobsMixin, JobRunsMixin, RegistriesMixin, TasksMixin, InsightsMixin, DeploymentsMixin
):
    def __init__(
        self,
        store: ResourceStore,
        *,
        subscription_id: str,
        tenant_id: str,
        client_id: str,
        base_url: str,
        runtime: Any = None,
        fleet: Any = None,
        faults: FaultTable | None = None,
        retry_after: int = 1,
        runtime_error: str | None = None,
    ) -> None:
        self.store = store
        self.subscription_id = subscription_id
        self.tenant_id = tenant_id
        self.client_id = client_id
        self.base_url = base_url.rstrip("/")
        self.runtime = runtime
        self.runtime_error = runtime_error
        self.fleet = fleet
        self.faults = faults or FaultTable()
        self.retry_after = retry_after
        self._routes: list[tuple[str, re.Pattern[str], str, Handler]] = []
        self._add_routes()

    # routing --------------------------------------------------------------------------------
    def _route(self, method: str, pattern: str, namespace: str, handler: Handler) -> None:
        self._routes.append((method, re.compile("^" + pattern + "/?$", re.IGNORECASE), namespace, handler))

    def _add_routes(self) -> None:
        r = self._route
        ops = (
            _SUB + r"/providers/(?P<ns>microsoft\.app|microsoft\.containerregistry|microsoft\.resources)"
            r"/locations/(?P<loc>[^/]+)/(?P<kind>[a-z]*operationstatuses|[a-z]*operationresults)"
            r"/(?P<op>[^/]+)"
        )
        r("GET", ops, "op", self.get_operation)
        r("GET", "/subscriptions", "microsoft.resources", self.list_subscriptions)
        r("GET", _SUB, "microsoft.resources", self.get_subscription)
        r(
            "GET",
            _SUB + r"/providers/(?P<provider>microsoft\.app|microsoft\.containerregistry)",
            "microsoft.resources",  # Providers_Get is ARM's own operation, with ARM's versions
            self.get_provider,
        )
        r("PUT", _RG, "microsoft.resources", self.put_resource_group)
        r("PATCH", _RG, "microsoft.resources", self.patch_resource_group)
        r("GET", _RG, "microsoft.resources", self.get_resource_group)
        r("HEAD", _RG, "microsoft.resources", self.head_resource_group)
        r("DELETE", _RG, "microsoft.resources", self.delete_resource_group)
        r("GET", _SUB + "/resourcegroups", "microsoft.resources", self.list_resource_groups)
        for kind in ("managedEnvironments", "connectedEnvironments"):
            p = _APP + f"/{kind.lower()}"
            r("PUT", p + "/(?P<name>[^/]+)", "microsoft.app", self._env_handler(kind, self.put_environment))
            r(
                "PATCH",
                p + "/(?P<name>[^/]+)",
                "microsoft.app",
                self._env_handler(kind, self.patch_environment),
            )
            r("GET", p + "/(?P<name>[^/]+)", "microsoft.app", self._env_handler(kind, self.get_environment))
            r(
                "DELETE",
                p + "/(?P<name>[^/]+)",
                "microsoft.app",
                self._env_handler(kind, self.delete_environment),
            )
            r("GET", p, "microsoft.app", self._env_handler(kind, self.list_environments))
            r(
                "GET",
                _SUB + f"/providers/microsoft\\.app/{kind.lower()}",
                "microsoft.app",
                self._env_handler(kind, self.list_environments),
            )
        self.add_app_routes(r, _APP, _SUB)
        self.add_job_routes(r, _APP, _SUB)
        self.add_job_run_routes(r, _APP)
        self.add_registry_routes(r, _ACR, _SUB)
        self.add_task_routes(r, _ACR)
        self.add_insights_routes(r, _RG, _APP, _SUB)
        self.add_deployment_routes(r, _RG)  # after the emulated types: its generic GET is a fallback

    def handle(self, method: str, path: str, query: dict[str, str], body: Any) -> Response:
        matched_path = False
        for route_method, pattern, namespace, handler in self._routes:
            m = pattern.match(path)
            if not m:
                continue
            matched_path = True
            if route_method != method:
                continue
            params = m.groupdict()
            self._check_api_version(namespace, params.get("ns"), query.get("api-version"), path, body)
            if "sub" in params and params["sub"].lower() != self.subscription_id.lower():
                raise ArmError(
                    404, "SubscriptionNotFound", f"The subscription '{params.get('sub')}' could not be found."
                )
            params.pop("sub", None)
            if body is not None and not isinstance(body, dict):
                raise bad_request(
                    "InvalidRequestContent", "The request content was invalid and could not be deserialized."
                )
            return handler(body=body, query=query, **params)
        if matched_path:
            raise ArmError(
                405, "MethodNotAllowed", f"The requested method '{method}' is not allowed for '{path}'."
            )
        raise self._unknown_route(path, query.get("api-version"))

    def _check_api_version(
        self, namespace: str, op_ns: str | None, version: str | None, path: str = "", body: Any = None
    ) -> None:
        """ARM's two answers: a version that is not date-shaped is InvalidApiVersionParameter; a
        well-formed one the provider does not serve is NoRegisteredProviderFound, naming the type
        and the versions it does serve."""
        if not version:
            raise bad_request(
                "MissingApiVersionParameter",
                "The api-version query parameter (?api-version=) is required for all requests.",
            )
        if namespace == "op":
            namespace = (op_ns or "").lower()
        if namespace == "microsoft.resources" or namespace == "":
            supported: set[str] = set()
        else:
            supported = API_VERSIONS[namespace]
        if not API_VERSION_SHAPE.match(version):
            listed = f" The supported versions are '{', '.join(sorted(supported))}'." if supported else ""
            raise bad_request(
                "InvalidApiVersionParameter", f"The api-version '{version}' is invalid.{listed}"
            )
        if not supported or version in supported:
            return
        where = body.get("location") if isinstance(body, dict) and body.get("location") else "global"
        location = where.replace(" ", "").lower()
        m = re.search(r"/providers/[^/]+/(.+)$", path)
        segments = m.group(1).split("/") if m else []
        rtype = "/".join(segments[0::2]) or namespace
        raise bad_request(
            "NoRegisteredProviderFound",
            f"No registered resource provider found for location '{location}' "
            f"and API version '{version}' for type '{rtype}'. The supported api-versions are "
            f"'{', '.join(sorted(supported))}'. The supported locations are '{location}'.",
        )

    @staticmethod
    def _unknown_route(path: str, version: str | None) -> ArmError:
        m = re.search(r"/providers/([^/]+)/([^/]+)", path)
        if m:
            return ArmError(
                404,
                "InvalidResourceType",
                f"The resource type '{m.group(2)}' could not be found in the namespace '{m.group(1)}' "
                f"for api version '{version}'.",
            )
        return ArmError(
            404, "InvalidResourceType", f"The resource type could not be found for path '{path}'."
        )

    # shared helpers -----------------------------------------------------------------------------
    def sub_id(self) -> str:
        return f"/subscriptions/{self.subscription_id}"

    def require_rg(self, rg: str) -> dict[str, Any]:
        record = self.store.get(f"{self.sub_id()}/resourceGroups/{rg}")
        if record is None:
            raise ArmError(404, "ResourceGroupNotFound", f"Resource group '{rg}' could not be found.")
        return record

    def rg_id(self, rg: str) -> str:
        return self.require_rg(rg)["id"]

    def tracked_body(
        self, resource_id: str, name: str, rtype: str, body: dict[str, Any], existing: dict[str, Any] | None
    ) -> dict[str, Any]:
        """The TrackedResource envelope ARM returns, keeping request fields it echoes."""
        if not body.get("location"):
            raise bad_request("LocationRequired", "The location property is required for this definition.")
        previous = (existing.get("envelope") or existing["body"]) if existing else None
        created = previous["systemData"]["createdAt"] if previous else now_iso()
        out: dict[str, Any] = {"id": resource_id, "name": name, "type": rtype, "location": body["location"]}
        if body.get("tags") is not None:
            out["tags"] = body["tags"]
        for key in ("kind", "extendedLocation", "managedBy", "sku"):
            if body.get(key) is not None:
                out[key] = body[key]
        identity = echo_identity(body.get("identity"), resource_id, self.tenant_id)
        if identity is not None:
            out["identity"] = identity
        out["systemData"] = system_data(self.client_id, created, now_iso())
        return out

    # long-running operations ------------------------------------------------------------------
    def finished_operation(
        self, namespace: str, location: str, target: str, api_version: str
    ) -> dict[str, Any]:
        """An operation that is already over (deletes here finish at once) but that clients still poll
        through its Location, as ARM's 202 contract says."""
        op = self.start_operation(namespace, location, "done", target, api_version, result_status=200)
        self.finish_operation(op, "Succeeded")
        return op

    def start_operation(
        self, namespace: str, location: str, kind: str, target: str, api_version: str, **details: Any
    ) -> dict[str, Any]:
        op_id = str(uuid.uuid4())
        op = {
            "name": op_id,
            "namespace": namespace,
            "location": location.replace(" ", "").lower(),
            "kind": kind,
            "target": target,
            "api_version": api_version,
            "status": "InProgress",
            "startTime": now_iso(),
            **details,
        }
        self.store.put_operation(op_id, op)
        return op

    def operation_url(self, op: dict[str, Any], kind: str) -> str:
        prefix = MONITOR_PREFIX.get(_resource_type(op.get("target", "")), "")
        if prefix:
            kind = prefix + kind[0].upper() + kind[1:]
        return (
            f"{self.base_url}{self.sub_id()}/providers/{op['namespace']}/locations/{op['location']}/"
            f"{kind}/{op['name']}?api-version={op['api_version']}"
        )

    def lro_headers(
        self, op: dict[str, Any], *, async_op: bool = False, location: bool = False
    ) -> dict[str, str]:
        headers = {"Retry-After": str(self.retry_after)}
        if async_op:
            headers["Azure-AsyncOperation"] = self.operation_url(op, "operationStatuses")
        if location:
            headers["Location"] = self.operation_url(op, "operationResults")
        return headers

    def finish_operation(self, op: dict[str, Any], status: str, error: dict[str, Any] | None = None) -> None:
        op["status"] = status
        op["endTime"] = now_iso()
        if error:
            op["error"] = error
        self.store.put_operation(op["name"], op)

    def advance_operation(self, op: dict[str, Any]) -> dict[str, Any]:
        if op["status"] == "InProgress":
            advance = getattr(self, f"advance_{op['kind']}", None)
            if advance is None:
                self.finish_operation(op, "Succeeded")
            else:
                advance(op)
        return op

    def get_operation(
        self, body: Any, query: dict[str, str], ns: str, loc: str, kind: str, op: str
    ) -> Response:
        hold_until = time.monotonic() + (POLL_HOLD_SECONDS if self.retry_after > 0 else 0)
        while True:
            with self.store.lock:
                record = self.store.get_operation(op)
                if record is None:
                    raise ArmError(404, "OperationNotFound", f"The operation '{op}' was not found.")
                record = self.advance_operation(record)
            if record["status"] != "InProgress" or time.monotonic() >= hold_until:
                break
            time.sleep(0.05)
        if kind.lower().endswith("operationstatuses"):
            status_body = {
                "id": self.operation_url(record, "operationStatuses")
                .split("?")[0]
                .removeprefix(self.base_url),
                "name": record["name"],
                "status": record["status"],
                "startTime": record["startTime"],
            }
            if record.get("endTime"):
                status_body["endTime"] = record["endTime"]
            if record.get("error"):
                status_body["error"] = record["error"]
            # ARM repeats Retry-After while an operation runs; without it clients fall back to
            # their own polling interval (2-30 s) instead of the stand-in's configured pace
            running = {"Retry-After": str(self.retry_after)} if record["status"] == "InProgress" else {}
            return Response(200, status_body, running)
        # operationResults: 202 while running, then the operation's final result
        if record["status"] == "InProgress":
            return Response(202, None, self.lro_headers(record, location=True))
        if record["status"] == "Failed":
            err = record.get("error") or {"code": "OperationFailed", "message": "The operation failed."}
            return Response(int(record.get("http_status", 400)), {"error": err})
        result = record.get("result")
        if result == "resource":
            return Response(200, self.render(record["target"]))
        if isinstance(result, dict):
            return Response(200, result)
        return Response(int(record.get("result_status", 204)), None)

    def render(self, resource_id: str) -> dict[str, Any]:
        record = self.store.get(resource_id)
        if record is None:
            raise ArmError(404, "ResourceNotFound", f"The Resource '{resource_id}' was not found.")
        renderer = getattr(self, "render_" + record["type"].split("/")[-1].lower(), None)
        return renderer(record) if renderer else record["body"]

    # subscriptions (az login lists them) ----------------------------------------------------------
    def subscription_body(self) -> dict[str, Any]:
        return {
            "id": self.sub_id(),
            "subscriptionId": self.subscription_id,
            "tenantId": self.tenant_id,
            "displayName": "genaiops sandbox",
            "state": "Enabled",
            "subscriptionPolicies": {
                "locationPlacementId": "Public_2014-09-01",
                "quotaId": "Sandbox",
                "spendingLimit": "Off",
            },
            "authorizationSource": "RoleBased",
        }

    def list_subscriptions(self, body: Any, query: dict[str, str]) -> Response:
        return Response(200, {"value": [self.subscription_body()]})

    def get_subscription(self, body: Any, query: dict[str, str]) -> Response:
        return Response(200, self.subscription_body())

    def list_tenants(self) -> Response:
        return Response(200, {"value": [{"id": f"/tenants/{self.tenant_id}", "tenantId": self.tenant_id}]})

    # provider registration ----------------------------------------------------------------------
    def get_provider(self, body: Any, query: dict[str, str], provider: str) -> Response:
        """Providers_Get: az checks registrationState and each resource type's locations first."""
        canonical_ns = {
            "microsoft.app": "Microsoft.App",
            "microsoft.containerregistry": "Microsoft.ContainerRegistry",
        }[provider.lower()]
        types = PROVIDER_TYPES[canonical_ns]
        versions = sorted(API_VERSIONS[canonical_ns.lower()], reverse=True)
        return Response(
            200,
            {
                "id": f"{self.sub_id()}/providers/{canonical_ns}",
                "namespace": canonical_ns,
                "registrationState": "Registered",
                "registrationPolicy": "RegistrationRequired",
                "resourceTypes": [
                    {
                        "resourceType": t,
                        "locations": [] if t == "locations" else list(REGIONS),
                        "apiVersions": versions,
                        "defaultApiVersion": versions[-1],
                        "capabilities": "None",
                    }
                    for t in types
                ],
            },
        )

    # resource groups ----------------------------------------------------------------------------
    def _rg_body(self, rid: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
        out = {
            "id": rid,
            "name": name,
            "type": "Microsoft.Resources/resourceGroups",
            "location": body["location"],
            "properties": {"provisioningState": "Succeeded"},
        }
        if body.get("tags") is not None:
            out["tags"] = body["tags"]
        if body.get("managedBy"):
            out["managedBy"] = body["managedBy"]
        return out

    def put_resource_group(self, body: Any, query: dict[str, str], rg: str) -> Response:
        if not isinstance(body, dict) or not body.get("location"):
            raise bad_request("LocationRequired", "The location property is required for this definition.")
        with self.store.lock:
            rid = f"{self.sub_id()}/resourceGroups/{rg}"
            existing = self.store.get(rid)
            if existing is None:
                check_resource_group_name(rg)
            if existing:
                rid, rg = existing["id"], existing["body"]["name"]
                if existing["body"]["location"].lower() != body["location"].replace(" ", "").lower():
                    raise bad_request(
                        "InvalidResourceGroupLocation",
                        f"Invalid resource group location '{body['location']}'. The Resource group "
                        f"already exists in location '{existing['body']['location']}'.",
                    )
            out = self._rg_body(rid, rg, {**body, "location": body["location"].replace(" ", "").lower()})
            self.store.put(rid, {"id": rid, "type": "Microsoft.Resources/resourceGroups", "body": out})
        return Response(200 if existing else 201, out)

    def patch_resource_group(self, body: Any, query: dict[str, str], rg: str) -> Response:
        with self.store.lock:
            record = self.require_rg(rg)
            if body and "tags" in body:
                record["body"]["tags"] = body["tags"]
            self.store.put(record["id"], record)
        return Response(200, record["body"])

    def get_resource_group(self, body: Any, query: dict[str, str], rg: str) -> Response:
        return Response(200, self.require_rg(rg)["body"])

    def head_resource_group(self, body: Any, query: dict[str, str], rg: str) -> Response:
        exists = self.store.get(f"{self.sub_id()}/resourceGroups/{rg}") is not None
        return Response(204 if exists else 404, None)

    def list_resource_groups(self, body: Any, query: dict[str, str]) -> Response:
        groups = self.store.list(self.sub_id() + "/resourceGroups", "Microsoft.Resources/resourceGroups")
        return Response(200, {"value": [g["body"] for g in groups if g["id"].count("/") == 4]})

    def delete_resource_group(self, body: Any, query: dict[str, str], rg: str) -> Response:
        with self.store.lock:
            record = self.require_rg(rg)
            for child in self.store.all():
                if child["id"].lower().startswith(record["id"].lower() + "/"):
                    self.release_resource(child)
            self.store.delete(record["id"])
            op = self.finished_operation(
                "Microsoft.Resources", "global", record["id"], query.get("api-version", "")
            )
        return Response(202, None, self.lro_headers(op, location=True))

    def release_resource(self, record: dict[str, Any]) -> None:
        """Stop whatever real processes back a resource before it disappears from the store."""
        rtype = record.get("type", "").lower()
        try:
            if rtype == "microsoft.app/containerapps" and self.runtime is not None:
                # only this app: its environment's domain tells it from same-named apps elsewhere
                self.runtime.remove_app(record["body"]["name"], record["env"]["domain"])
            elif rtype == "microsoft.containerregistry/registries" and self.fleet is not None:
                self.fleet.delete(record["body"]["name"])
        except Exception:  # a stuck backend must not keep ARM state from being deleted
            log.exception("releasing %s failed", record["id"])

    # managed / connected environments -----------------------------------------------------------
    def _env_handler(self, kind: str, fn: Callable[..., Response]) -> Handler:
        def handler(**kwargs: Any) -> Response:
            return fn(kind=kind, **kwargs)

        return handler

    def env_id(self, rg: str, kind: str, name: str) -> str:
        return f"{self.rg_id(rg)}/providers/Microsoft.App/{kind}/{name}"

    def put_environment(self, kind: str, body: Any, query: dict[str, str], rg: str, name: str) -> Response:
        body = body or {}
        with self.store.lock:
            rid = self.env_id(rg, kind, name)
            existing = self.store.get(rid)
            if existing:
                rid, name = existing["id"], existing["body"]["name"]
            else:
                check_environment_name(name)
            if kind == "connectedEnvironments":
                ext = body.get("extendedLocation") or {}
                if not ext.get("name") or ext.get("type", "CustomLocation") != "CustomLocation":
                    raise invalid_parameter(
                        "extendedLocation",
                        "a connected environment needs an extendedLocation "
                        "of type CustomLocation naming the Arc custom location id",
                    )
            out = self.tracked_body(rid, name, f"Microsoft.App/{kind}", body, existing)
            props = dict(body.get("properties") or {})
            props["defaultDomain"] = default_domain(rid, body["location"])
            props["staticIp"] = props.get("staticIp") or "127.0.0.1"
            if kind == "managedEnvironments":
                props["eventStreamEndpoint"] = (
                    f"https://{props['defaultDomain']}/subscriptions/{self.subscription_id}"
                    f"/resourceGroups/{rg}/managedEnvironments/{name}/eventstream"
                )
            props["provisioningState"] = "Succeeded" if existing else "InitializationInProgress"
            out["properties"] = props
            self.store.put(rid, {"id": rid, "type": f"Microsoft.App/{kind}", "body": out})
            if existing:
                return Response(200, out)
            op = self.start_operation(
                "Microsoft.App", body["location"], "environment", rid, query["api-version"], result="resource"
            )
        # ManagedEnvironments_CreateOrUpdate: 201 + Location;
        # ConnectedEnvironments_CreateOrUpdate: 201 + Azure-AsyncOperation
        if kind == "managedEnvironments":  # Azure also sends Azure-AsyncOperation, which az polls
            return Response(201, out, self.lro_headers(op, async_op=True, location=True))
        return Response(201, out, self.lro_headers(op, async_op=True))

    def advance_environment(self, op: dict[str, Any]) -> None:
        record = self.store.get(op["target"])
        if record is not None:
            record["body"]["properties"]["provisioningState"] = "Succeeded"
            self.store.put(record["id"], record)
        self.finish_operation(op, "Succeeded")

    def patch_environment(self, kind: str, body: Any, query: dict[str, str], rg: str, name: str) -> Response:
        with self.store.lock:
            record = self.store.get(self.env_id(rg, kind, name))
            if record is None:
                raise not_found(f"Microsoft.App/{kind}", name, rg)
            patch = body or {}
            readonly = {
                "defaultDomain",
                "staticIp",
                "provisioningState",
                "eventStreamEndpoint",
                "deploymentErrors",
            }
            props = {k: v for k, v in (patch.get("properties") or {}).items() if k not in readonly}
            record["body"]["properties"].update(props)
            if "tags" in patch:
                record["body"]["tags"] = patch["tags"]
            record["body"]["systemData"]["lastModifiedAt"] = now_iso()
            self.store.put(record["id"], record)
            if kind == "connectedEnvironments":  # ConnectedEnvironments_Update is synchronous
                return Response(200, record["body"])
            op = self.start_operation(
                "Microsoft.App",
                record["body"]["location"],
                "done",
                record["id"],
                query["api-version"],
                result="resource",
            )
            self.finish_operation(op, "Succeeded")
        return Response(202, None, self.lro_headers(op, location=True))

    def get_environment(self, kind: str, body: Any, query: dict[str, str], rg: str, name: str) -> Response:
        record = self.store.get(self.env_id(rg, kind, name))
        if record is None:
            raise not_found(f"Microsoft.App/{kind}", name, rg)
        return Response(200, record["body"])

    def list_environments(
        self, kind: str, body: Any, query: dict[str, str], rg: str | None = None
    ) -> Response:
        prefix = self.rg_id(rg) if rg else self.sub_id()
        return Response(200, {"value": [r["body"] for r in self.store.list(prefix, f"Microsoft.App/{kind}")]})

    def delete_environment(self, kind: str, body: Any, query: dict[str, str], rg: str, name: str) -> Response:
        with self.store.lock:
            record = self.store.get(self.env_id(rg, kind, name))
            if record is None:
                return Response(204, None)
            users = [
                a["body"]["name"]
                for a in self.store.list(self.sub_id(), "Microsoft.App/containerApps")
                if a["env"]["id"].lower() == record["id"].lower()
            ] + [
                j["body"]["name"]
                for j in self.store.list(self.sub_id(), "Microsoft.App/jobs")
                if (j["spec"].get("properties") or {}).get("environmentId", "").lower()
                == record["id"].lower()
            ]
            if users:
                raise bad_request(
                    "ManagedEnvironmentHasContainerApps",
                    f"Cannot delete environment '{name}' because it still has container apps or jobs: "
                    f"{', '.join(sorted(users))}. Delete them first.",
                )
            self.store.delete(record["id"])
            op = self.finished_operation(
                "Microsoft.App", record["body"]["location"], record["id"], query["api-version"]
            )
        return Response(202, None, self.lro_headers(op, location=True))


def _resource_type(resource_id: str) -> str:
    """`microsoft.app/containerapps` for an app's id (lower case; nested types joined by '/')."""
    m = re.search(r"/providers/([^/]+)/(.+)$", resource_id)
    if not m:
        return ""
    return (m.group(1) + "/" + "/".join(m.group(2).split("/")[0::2])).lower()
