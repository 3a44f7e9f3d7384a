"""Microsoft.App/containerApps: apps, revisions, traffic and label history.

Revision rules mirrored from Azure: a new revision is created on every change to
`properties.template` (and only then); its name is `<app>--<revisionSuffix>`; in Single mode it takes
all traffic and the previous revision is deactivated; `ingress.traffic` is validated as a whole."""

from __future__ import annotations

import json
import re
from typing import Any

from ..runtime_api import AppRoutes, ContainerSpec, RevisionSpec, RevisionStatus, TrafficRoute
from . import secrets as app_secrets
from .common import OUTBOUND_IPS, Response, deep_merge, drop_nulls, now_iso, random_suffix, stable_uuid
from .errors import ArmError, bad_request, invalid_parameter, not_found
from .names import check_container_app_name, normalize_app_enums

APP_TYPE = "Microsoft.App/containerApps"
LABEL_RE = re.compile(r"^[a-z][a-z0-9-]*[a-z0-9]$|^[a-z]$")
SUFFIX_RE = re.compile(r"^[a-z0-9][a-z0-9-]*[a-z0-9]$|^[a-z0-9]$")
STUCK = RevisionStatus("Processing", "None", "Provisioning", None)


def _canonical(template: dict[str, Any] | None) -> str:
    return json.dumps(template or {}, sort_keys=True)


def container_specs(template: dict[str, Any], secrets: dict[str, str] | None = None) -> list[ContainerSpec]:
    """The template's containers; env entries with a `secretRef` get that secret's value."""
    secrets = secrets or {}
    specs = []
    for c in template.get("containers") or []:
        resources = c.get("resources") or {}
        specs.append(
            ContainerSpec(
                name=c.get("name", "main"),
                image=c.get("image", ""),
                env={
                    e["name"]: secrets.get(e["secretRef"], "")
                    if e.get("secretRef")
                    else str(e.get("value", ""))
                    for e in c.get("env") or []
                    if "name" in e
                },
                command=c.get("command"),
                args=c.get("args"),
                cpu=float(resources["cpu"]) if resources.get("cpu") is not None else None,
                memory=resources.get("memory"),
                probes=list(c.get("probes") or []),
            )
        )
    return specs


def _reads_secrets(template: dict[str, Any]) -> bool:
    return any(e.get("secretRef") for c in template.get("containers") or [] for e in c.get("env") or [])


class AppsMixin:
    # provided by ArmApi
    store: Any
    runtime: Any
    runtime_error: str | None
    faults: Any
    subscription_id: str

    def add_app_routes(self, r: Any, app_ns: str, sub: str) -> None:
        a = app_ns + r"/containerapps/(?P<name>[^/]+)"
        r("PUT", a, "microsoft.app", self.put_app)
        r("PATCH", a, "microsoft.app", self.patch_app)
        r("GET", a, "microsoft.app", self.get_app)
        r("DELETE", a, "microsoft.app", self.delete_app)
        r("GET", app_ns + "/containerapps", "microsoft.app", self.list_apps)
        r("GET", sub + r"/providers/microsoft\.app/containerapps", "microsoft.app", self.list_apps)
        r("GET", a + "/revisions", "microsoft.app", self.list_revisions)
        r("GET", a + "/revisions/(?P<rev>[^/]+)", "microsoft.app", self.get_revision)
        r("GET", a + "/revisions/(?P<rev>[^/]+)/replicas", "microsoft.app", self.list_replicas)
        r(
            "GET",
            a + "/revisions/(?P<rev>[^/]+)/replicas/(?P<replica>[^/]+)",
            "microsoft.app",
            self.get_replica,
        )
        r(
            "POST",
            a + "/revisions/(?P<rev>[^/]+)/(?P<action>activate|deactivate|restart)",
            "microsoft.app",
            self.revision_action,
        )
        r("GET", a + "/labelhistories", "microsoft.app", self.list_label_history)
        r("GET", a + "/labelhistories/(?P<label>[^/]+)", "microsoft.app", self.get_label_history)
        r("DELETE", a + "/labelhistories/(?P<label>[^/]+)", "microsoft.app", self.delete_label_history)

    # lookups ------------------------------------------------------------------------------------
    def app_id(self, rg: str, name: str) -> str:
        return f"{self.rg_id(rg)}/providers/Microsoft.App/containerApps/{name}"  # type: ignore[attr-defined]

    def require_app(self, rg: str, name: str) -> dict[str, Any]:
        record = self.store.get(self.app_id(rg, name))
        if record is None:
            raise not_found(APP_TYPE, name, rg)
        return record

    def revision_status(self, record: dict[str, Any], rev: dict[str, Any]) -> RevisionStatus:
        if not rev["active"]:
            return RevisionStatus("Stopped", "None", "Deprovisioned", None)
        if self.faults.revision_stuck(rev["name"]):
            return STUCK
        if self.runtime is None:
            return RevisionStatus(
                "Failed", "Unhealthy", "Failed", self.runtime_error or "no container runtime"
            )
        return self.runtime.revision_status(rev["name"], record["env"]["domain"])

    @staticmethod
    def _ready(status: RevisionStatus) -> bool:
        return status.provisioning_state == "Provisioned" and status.running_state == "Running"

    # writes -------------------------------------------------------------------------------------
    def put_app(self, body: Any, query: dict[str, str], rg: str, name: str) -> Response:
        with self.store.lock:
            existing = self.store.get(self.app_id(rg, name))
            if existing is None:
                check_container_app_name(name)
            return self._write_app(rg, name, body or {}, existing, query["api-version"], patch=False)

    def patch_app(self, body: Any, query: dict[str, str], rg: str, name: str) -> Response:
        with self.store.lock:
            existing = self.require_app(rg, name)
            merged = deep_merge(existing["spec"], body or {})
            return self._write_app(rg, name, merged, existing, query["api-version"], patch=True)

    def _write_app(
        self,
        rg: str,
        name: str,
        body: dict[str, Any],
        existing: dict[str, Any] | None,
        api_version: str,
        patch: bool,
    ) -> Response:
        rid = existing["id"] if existing else self.app_id(rg, name)
        name = existing["body"]["name"] if existing else name
        props = dict(body.get("properties") or {})
        env_id = props.get("environmentId") or props.get("managedEnvironmentId")
        if not env_id:
            raise invalid_parameter("properties.environmentId", "environmentId is required")
        env = self.store.get(env_id)
        if env is None or env["type"] not in (
            "Microsoft.App/managedEnvironments",
            "Microsoft.App/connectedEnvironments",
        ):
            raise ArmError(
                404, "ManagedEnvironmentNotFound", f"Managed environment '{env_id}' was not found."
            )
        if env["type"] == "Microsoft.App/connectedEnvironments" and not body.get("extendedLocation"):
            raise invalid_parameter(
                "extendedLocation",
                "apps in a connected environment need the environment's extendedLocation (custom location)",
            )
        config = drop_nulls(props.get("configuration") or {})
        template = drop_nulls(props.get("template") or {})
        normalize_app_enums(config, template)
        mode = config.get("activeRevisionsMode") or "Single"
        config["activeRevisionsMode"] = mode
        if not template.get("containers"):
            raise invalid_parameter("template.containers", "at least one container is required")
        app_secrets.check_secrets(config, template)

        state = (
            existing["state"]
            if existing
            else {"revisions": {}, "order": [], "labels": {}, "latest_ready": None}
        )
        revisions: dict[str, dict[str, Any]] = state["revisions"]
        old_template = existing["spec"]["properties"].get("template") if existing else None
        new_revision = None
        if existing is None or _canonical(old_template) != _canonical(template):
            suffix = template.get("revisionSuffix") or random_suffix()
            if not SUFFIX_RE.match(suffix):
                raise invalid_parameter(
                    "template.revisionSuffix",
                    f'Invalid value: "{suffix}": a revision suffix '
                    "consists of lower case alphanumeric characters or '-'",
                )
            rev_name = f"{name}--{suffix}".lower()
            if rev_name in revisions:
                raise invalid_parameter(
                    "template.revisionSuffix",
                    f'Invalid value: "{suffix}": revision with suffix {suffix} already exists',
                )
            if self.runtime is None:
                raise ArmError(
                    500,
                    "SandboxRuntimeUnavailable",
                    "The sandbox has no container runtime, so it cannot "
                    f"create revision '{rev_name}': {self.runtime_error or 'not configured'}.",
                )
            new_revision = {
                "name": rev_name,
                "createdTime": now_iso(),
                "lastActiveTime": now_iso(),
                "template": template,
                "active": True,
            }
        candidate = {k: dict(v) for k, v in revisions.items()}
        order = list(state["order"])
        if new_revision:
            candidate[new_revision["name"]] = new_revision
            order.append(new_revision["name"])
            if mode == "Single":
                for rev in candidate.values():
                    if rev["name"] != new_revision["name"]:
                        rev["active"] = False
        latest = order[-1]
        ingress = config.get("ingress")
        traffic = self._validated_traffic(ingress, candidate, latest, mode)
        if ingress is not None:
            ingress = dict(ingress)
            ingress["traffic"] = traffic
            config["ingress"] = ingress
        props["configuration"] = config
        props["template"] = template

        stored_spec = {k: v for k, v in body.items() if k not in ("id", "name", "type", "systemData")}
        stored_spec["properties"] = {
            k: v
            for k, v in props.items()
            if k
            in (
                "environmentId",
                "managedEnvironmentId",
                "workloadProfileName",
                "configuration",
                "template",
                "networking",
            )
        }
        state["revisions"], state["order"] = candidate, order
        self._record_labels(state, traffic, latest)
        envelope = self.tracked_body(rid, name, APP_TYPE, body, existing)  # type: ignore[attr-defined]
        record = {
            "id": rid,
            "type": APP_TYPE,
            "spec": stored_spec,
            "envelope": envelope,
            "state": state,
            "env": {"id": env["id"], "domain": env["body"]["properties"]["defaultDomain"]},
            "provisioning": "InProgress" if new_revision else "Succeeded",
            "pending_revision": new_revision["name"] if new_revision else None,
            "body": {"name": name},
        }
        self.store.put(rid, record)
        self._sync_runtime(record)

        location = body["location"]
        op = self.start_operation(
            "Microsoft.App",
            location,
            "app_write",
            rid,
            api_version,  # type: ignore[attr-defined]
            revision=record["pending_revision"],
            result="resource",
        )
        if not new_revision:
            self.finish_operation(op, "Succeeded")  # type: ignore[attr-defined]
        rendered = self.render_containerapps(self.store.get(rid))
        if patch:  # ContainerApps_Update: 202 + Location
            return Response(202, None, self.lro_headers(op, location=True))  # type: ignore[attr-defined]
        if existing is None:  # ContainerApps_CreateOrUpdate create: 201 + Azure-AsyncOperation
            return Response(201, rendered, self.lro_headers(op, async_op=True))  # type: ignore[attr-defined]
        # Update via PUT: 200; Azure still attaches the async operation while a new revision provisions.
        headers = self.lro_headers(op, async_op=True) if new_revision else {}  # type: ignore[attr-defined]
        return Response(200, rendered, headers)

    def _validated_traffic(
        self, ingress: dict[str, Any] | None, revisions: dict[str, dict[str, Any]], latest: str, mode: str
    ) -> list[dict[str, Any]]:
        field = "configuration.ingress.traffic"
        raw = (ingress or {}).get("traffic")
        if not raw:
            return [{"weight": 100, "latestRevision": True}]
        total = 0
        labels: set[str] = set()
        out = []
        for entry in raw:
            entry = {k: v for k, v in entry.items() if v is not None}
            weight = entry.get("weight", 0)
            if isinstance(weight, str) and weight.strip().isdigit():
                # az sends label weights as strings ("80"); ARM's JSON reader converts them
                weight = entry["weight"] = int(weight)
            if not isinstance(weight, int) or weight < 0 or weight > 100:
                raise invalid_parameter(
                    field, f"Invalid value: {weight}: traffic weight must be between 0 and 100"
                )
            total += weight
            is_latest = bool(entry.get("latestRevision"))
            rev = entry.get("revisionName")
            if is_latest and rev:
                raise invalid_parameter(
                    field,
                    "Invalid value: revisionName and latestRevision cannot both be set on one traffic weight",
                )
            if not is_latest and not rev:
                raise invalid_parameter(
                    field, "Invalid value: either revisionName or latestRevision must be set"
                )
            if rev:
                rev = rev.lower()
                if rev not in revisions:
                    raise invalid_parameter(field, f'Invalid value: "{rev}": revision {rev} not found')
                # Azure accepts weight on an inactive revision (microsoft/azure-container-apps#1345);
                # requests routed there find no replica
                entry["revisionName"] = rev
            label = entry.get("label")
            if label is not None:
                if not LABEL_RE.match(label) or len(label) > 64:
                    raise invalid_parameter(
                        field,
                        f'Invalid value: "{label}": a label must consist of lower case '
                        "alphanumeric characters or '-', start with a letter and end with an "
                        "alphanumeric character",
                    )
                if label in labels:
                    raise invalid_parameter(field, f'Invalid value: "{label}": label names must be unique')
                labels.add(label)
            out.append(entry)
        if total != 100:
            raise invalid_parameter(
                field, f"Invalid value: traffic weights sum to {total}; they must add up to 100"
            )
        if mode == "Single" and any(
            e.get("revisionName") not in (None, latest) and e.get("weight") for e in out
        ):
            raise invalid_parameter(
                field, "Invalid value: in Single revision mode all traffic goes to the latest revision"
            )
        return out

    def _record_labels(self, state: dict[str, Any], traffic: list[dict[str, Any]], latest: str) -> None:
        """Label history (ContainerAppsLabelHistory): one record per label → revision assignment."""
        now = now_iso()
        current = {e["label"]: (e.get("revisionName") or latest) for e in traffic if e.get("label")}
        history: dict[str, list[dict[str, Any]]] = state.setdefault("label_history", {})
        for label, records in history.items():
            if records and "stop" not in records[-1] and current.get(label) != records[-1]["revision"]:
                records[-1]["stop"] = now
        for label, rev in current.items():
            records = history.setdefault(label, [])
            if not records or "stop" in records[-1] or records[-1]["revision"] != rev:
                records.append({"revision": rev, "start": now, "status": "Succeeded"})
        state["labels"] = current

    def _sync_runtime(self, record: dict[str, Any]) -> None:
        if self.runtime is None:
            return
        state = record["state"]
        domain = record["env"]["domain"]
        props = record["spec"]["properties"]
        ingress = (props.get("configuration") or {}).get("ingress")
        target_port = ingress.get("targetPort") if ingress else None
        rg = record["id"].split("/")[4]
        app = record["body"]["name"]
        for rev in state["revisions"].values():
            if rev["active"]:
                values, failure = app_secrets.resolve(
                    record, rev["template"], self.store, getattr(self, "vaults", None)
                )
                self.runtime.ensure_revision(
                    RevisionSpec(
                        app=app,
                        revision=rev["name"],
                        resource_group=rg,
                        default_domain=domain,
                        containers=container_specs(rev["template"], values),
                        target_port=target_port,
                        failure=failure,
                    )
                )
            else:
                self.runtime.stop_revision(rev["name"], domain)
        latest = state["order"][-1]
        routes = [
            TrafficRoute(
                revision=e.get("revisionName") or latest, weight=int(e.get("weight", 0)), label=e.get("label")
            )
            for e in self._traffic(record)
        ]
        self.runtime.set_routes(
            AppRoutes(
                app=app,
                default_domain=domain,
                traffic=routes,
                revisions=[r["name"] for r in state["revisions"].values() if r["active"]],
            )
        )

    def _traffic(self, record: dict[str, Any]) -> list[dict[str, Any]]:
        ingress = (record["spec"]["properties"].get("configuration") or {}).get("ingress")
        if ingress is None:
            return [{"weight": 100, "latestRevision": True}]
        return list(ingress.get("traffic") or [{"weight": 100, "latestRevision": True}])

    # LRO driver ---------------------------------------------------------------------------------
    def advance_app_write(self, op: dict[str, Any]) -> None:
        record = self.store.get(op["target"])
        if record is None:
            self.finish_operation(
                op,
                "Failed",
                {
                    "code": "ResourceNotFound",  # type: ignore[attr-defined]
                    "message": "The container app was deleted.",
                },
            )
            return
        rev = record["state"]["revisions"].get(op.get("revision") or "")
        if rev is None:
            self.finish_operation(op, "Succeeded")  # type: ignore[attr-defined]
            return
        status = self.revision_status(record, rev)
        if self._ready(status):
            record["provisioning"] = "Succeeded"
            record["state"]["latest_ready"] = rev["name"]
            record["pending_revision"] = None
            self.store.put(record["id"], record)
            self.finish_operation(op, "Succeeded")  # type: ignore[attr-defined]
        elif status.provisioning_state == "Failed" or status.running_state == "Failed":
            record["provisioning"] = "Failed"
            record["pending_revision"] = None
            self.store.put(record["id"], record)
            message = (
                f"Failed to provision revision for container app '{record['body']['name']}'. "
                f"Error details: revision '{rev['name']}': {status.reason or 'the revision failed to start'}"
            )
            self.finish_operation(
                op,
                "Failed",
                {
                    "code": "ContainerAppOperationError",  # type: ignore[attr-defined]
                    "message": message,
                },
            )

    # reads --------------------------------------------------------------------------------------
    def render_containerapps(self, record: dict[str, Any]) -> dict[str, Any]:
        state = record["state"]
        domain = record["env"]["domain"]
        name = record["body"]["name"]
        latest = state["order"][-1]
        if state.get("latest_ready") != latest and latest in state["revisions"]:
            if self._ready(self.revision_status(record, state["revisions"][latest])):
                state["latest_ready"] = latest
                self.store.put(record["id"], record)
        out = dict(record["envelope"])
        props = json.loads(json.dumps(record["spec"]["properties"]))
        config = props.setdefault("configuration", {})
        for secret in config.get("secrets") or []:
            secret.pop("value", None)  # secret values never come back on GET
        if config.get("ingress") is not None:
            config["ingress"]["fqdn"] = f"{name}.{domain}"
        props.update(
            {
                "provisioningState": record["provisioning"],
                # ContainerApps_CreateOrUpdate's 201 example: Progressing while the revision provisions
                "runningStatus": "Progressing" if record["provisioning"] == "InProgress" else "Running",
                "latestRevisionName": latest,
                "latestRevisionFqdn": f"{latest}.{domain}" if config.get("ingress") is not None else "",
                "customDomainVerificationId": stable_uuid(record["id"], "verification")
                .replace("-", "")
                .upper(),
                "outboundIpAddresses": list(OUTBOUND_IPS),
                "eventStreamEndpoint": f"https://{domain}/subscriptions/{self.subscription_id}/resourceGroups/"
                f"{record['id'].split('/')[4]}/containerApps/{name}/eventstream",
            }
        )
        if state.get("latest_ready"):
            props["latestReadyRevisionName"] = state["latest_ready"]
        env_id = record["env"]["id"]
        props["environmentId"] = env_id
        if "/managedenvironments/" in env_id.lower():
            props["managedEnvironmentId"] = env_id
        out["properties"] = props
        return out

    def get_app(self, body: Any, query: dict[str, str], rg: str, name: str) -> Response:
        with self.store.lock:
            record = self.require_app(rg, name)
            self._advance_pending(record)
            return Response(200, self.render_containerapps(self.store.get(record["id"])))

    def _advance_pending(self, record: dict[str, Any]) -> None:
        """A GET on the app also moves its provisioningState, as ARM shows it without polling the op."""
        if record.get("provisioning") == "InProgress" and record.get("pending_revision"):
            rev = record["state"]["revisions"].get(record["pending_revision"])
            if rev is not None:
                status = self.revision_status(record, rev)
                if self._ready(status):
                    record["provisioning"] = "Succeeded"
                    record["state"]["latest_ready"] = rev["name"]
                    record["pending_revision"] = None
                    self.store.put(record["id"], record)

    def list_apps(self, body: Any, query: dict[str, str], rg: str | None = None) -> Response:
        prefix = self.rg_id(rg) if rg else self.sub_id()  # type: ignore[attr-defined]
        with self.store.lock:
            return Response(
                200, {"value": [self.render_containerapps(r) for r in self.store.list(prefix, APP_TYPE)]}
            )

    def delete_app(self, body: Any, query: dict[str, str], rg: str, name: str) -> Response:
        with self.store.lock:
            record = self.store.get(self.app_id(rg, name))
            if record is None:
                return Response(204, None)
            self.release_resource(record)  # type: ignore[attr-defined]
            self.store.delete(record["id"])
            op = self.finished_operation(
                "Microsoft.App", record["envelope"]["location"], record["id"], query["api-version"]
            )  # type: ignore[attr-defined]
        return Response(202, None, self.lro_headers(op, location=True))  # type: ignore[attr-defined]

    # revisions ----------------------------------------------------------------------------------
    def render_revision(self, record: dict[str, Any], rev: dict[str, Any]) -> dict[str, Any]:
        status = self.revision_status(record, rev)
        domain = record["env"]["domain"]
        latest = record["state"]["order"][-1]
        weight = sum(
            int(e.get("weight", 0))
            for e in self._traffic(record)
            if (e.get("revisionName") or (latest if e.get("latestRevision") else None)) == rev["name"]
        )
        props: dict[str, Any] = {
            "createdTime": rev["createdTime"],
            "lastActiveTime": rev["lastActiveTime"],
            "fqdn": f"{rev['name']}.{domain}",
            "template": rev["template"],
            "active": rev["active"],
            "replicas": 1 if rev["active"] and status.running_state == "Running" else 0,
            "trafficWeight": weight,
            "healthState": status.health_state or "None",
            "provisioningState": status.provisioning_state,
            "runningState": status.running_state,
        }
        if status.reason and (
            status.provisioning_state == "Failed"
            or status.running_state in ("Failed", "Degraded")
            or status.health_state == "Unhealthy"
        ):
            props["provisioningError"] = status.reason
        return {
            "id": f"{record['id']}/revisions/{rev['name']}",
            "name": rev["name"],
            "type": "Microsoft.App/containerApps/revisions",
            "properties": props,
        }

    def list_revisions(self, body: Any, query: dict[str, str], rg: str, name: str) -> Response:
        record = self.require_app(rg, name)
        revs = [record["state"]["revisions"][n] for n in record["state"]["order"]]
        return Response(200, {"value": [self.render_revision(record, r) for r in revs]})

    def _require_revision(self, record: dict[str, Any], rev: str) -> dict[str, Any]:
        found = record["state"]["revisions"].get(rev.lower())
        if found is None:
            raise not_found("Microsoft.App/containerApps/revisions", rev)
        return found

    def get_revision(self, body: Any, query: dict[str, str], rg: str, name: str, rev: str) -> Response:
        record = self.require_app(rg, name)
        return Response(200, self.render_revision(record, self._require_revision(record, rev)))

    def _replicas(self, record: dict[str, Any], revision: dict[str, Any]) -> list[dict[str, Any]]:
        if not revision["active"] or self.runtime is None or not hasattr(self.runtime, "revision_replicas"):
            return []
        rev_id = f"{record['id']}/revisions/{revision['name']}"
        out = []
        for replica in self.runtime.revision_replicas(revision["name"], record["env"]["domain"]):
            container: dict[str, Any] = {
                "name": replica.container,
                "containerId": replica.container_id,
                "ready": replica.ready,
                "started": replica.running,
                "restartCount": replica.restart_count,
                "runningState": "Running" if replica.running else "Waiting",
            }
            if replica.details:
                container["runningStateDetails"] = replica.details.splitlines()[0]
            props: dict[str, Any] = {
                "runningState": "Running" if replica.running and replica.ready else "NotRunning",
                "containers": [container],
                "initContainers": [],
            }
            if replica.created_time:
                props["createdTime"] = replica.created_time
            if replica.details:
                props["runningStateDetails"] = replica.details.splitlines()[0]
            out.append(
                {
                    "id": f"{rev_id}/replicas/{replica.name}",
                    "name": replica.name,
                    "type": "Microsoft.App/containerApps/revisions/replicas",
                    "properties": props,
                }
            )
        return out

    def list_replicas(self, body: Any, query: dict[str, str], rg: str, name: str, rev: str) -> Response:
        record = self.require_app(rg, name)
        return Response(200, {"value": self._replicas(record, self._require_revision(record, rev))})

    def get_replica(
        self, body: Any, query: dict[str, str], rg: str, name: str, rev: str, replica: str
    ) -> Response:
        record = self.require_app(rg, name)
        for found in self._replicas(record, self._require_revision(record, rev)):
            if found["name"].lower() == replica.lower():
                return Response(200, found)
        raise not_found("Microsoft.App/containerApps/revisions/replicas", replica)

    def revision_action(
        self, body: Any, query: dict[str, str], rg: str, name: str, rev: str, action: str
    ) -> Response:
        with self.store.lock:
            record = self.require_app(rg, name)
            revision = self._require_revision(record, rev)
            action = action.lower()
            mode = record["spec"]["properties"]["configuration"].get("activeRevisionsMode", "Single")
            if action == "deactivate":
                # Azure deactivates even a revision that carries traffic, even the only active one,
                # and keeps it in ingress.traffic (microsoft/azure-container-apps#1345, #410): a
                # client must move traffic first itself
                revision["active"] = False
            elif action == "activate":
                if mode == "Single" and revision["name"] != record["state"]["order"][-1]:
                    raise bad_request(
                        "ContainerAppInvalidRevisionsMode",
                        "Only the latest revision can be active in Single revision mode.",
                    )
                revision["active"] = True
                revision["lastActiveTime"] = now_iso()
            else:
                if not revision["active"]:
                    raise bad_request(
                        "ContainerAppRevisionNotActive",
                        f"Revision '{revision['name']}' is not active and cannot be restarted.",
                    )
                if self.runtime is not None and _reads_secrets(revision["template"]):
                    # secrets are read when replicas start: recreate them with today's values
                    self.runtime.stop_revision(revision["name"], record["env"]["domain"])
                    self._sync_runtime(record)
                elif self.runtime is not None:
                    self.runtime.restart_revision(revision["name"], record["env"]["domain"])
            self.store.put(record["id"], record)
            if action != "restart":
                self._sync_runtime(record)
        # the spec declares no schema, but Azure answers with a JSON body: az parses it (r.json())
        return Response(200, {})

    # label history --------------------------------------------------------------------------------
    def _render_label(
        self, record: dict[str, Any], label: str, records: list[dict[str, Any]]
    ) -> dict[str, Any]:
        return {
            "id": f"{record['id']}/labelHistories/{label}",
            "name": label,
            "type": "Microsoft.App/containerApps/labelHistories",
            "properties": {"records": [dict(r) for r in reversed(records)]},
        }

    def list_label_history(self, body: Any, query: dict[str, str], rg: str, name: str) -> Response:
        record = self.require_app(rg, name)
        history = record["state"].get("label_history", {})
        return Response(
            200, {"value": [self._render_label(record, k, v) for k, v in sorted(history.items())]}
        )

    def get_label_history(self, body: Any, query: dict[str, str], rg: str, name: str, label: str) -> Response:
        record = self.require_app(rg, name)
        history = record["state"].get("label_history", {})
        if label not in history:
            raise not_found("Microsoft.App/containerApps/labelHistories", label)
        return Response(200, self._render_label(record, label, history[label]))

    def delete_label_history(
        self, body: Any, query: dict[str, str], rg: str, name: str, label: str
    ) -> Response:
        with self.store.lock:
            record = self.require_app(rg, name)
            history = record["state"].get("label_history", {})
            if label not in history:
                return Response(204, None)
            if label in record["state"].get("labels", {}):
                raise bad_request(
                    "ContainerAppLabelInUse",
                    f"Label '{label}' is in use by the traffic configuration "
                    "and its history cannot be deleted.",
                )
            del history[label]
            self.store.put(record["id"], record)
        return Response(200, None)
