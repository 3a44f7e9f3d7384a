"""ACR Tasks quick builds (api-version 2025-03-01-preview): Registries_GetBuildSourceUploadUrl,
Registries_ScheduleRun with a DockerBuildRequest, Runs_Get / Runs_List / Runs_GetLogSasUrl /
Runs_Cancel.

A run really builds: the uploaded tar.gz goes to the stand-in's Docker engine (classic builder, no
pull: the engine is offline) and the images are pushed to the registry's own distribution process
with a refresh token minted by the fleet, as an ACR agent would. The run, its status and its
outputImages live in the ARM store; its log is a blob behind a read SAS (build_source.py).
ScheduleRun is synchronous in this spec (200 + the queued Run): clients poll Runs_Get."""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import threading
import time
from pathlib import Path
from typing import Any

from .common import Response, now_iso
from .errors import ArmError, bad_request

log = logging.getLogger("genaiops.sandbox.arm.tasks")

RUN_TYPE = "Microsoft.ContainerRegistry/registries/runs"
NAMESPACE = "microsoft.containerregistry.tasks"
API_VERSIONS = {"2025-03-01-preview"}
TERMINAL = {"Succeeded", "Failed", "Canceled", "Error", "Timeout"}
ACR_USER = "00000000-0000-0000-0000-000000000000"
_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"
_IMAGE_NAME = re.compile(r"^[a-z0-9]+(?:[._/-][a-z0-9]+)*(?::[A-Za-z0-9_][A-Za-z0-9._-]{0,127})?$")


def run_id_for(sequence: int) -> str:
    """ACR names quick runs with a two-letter prefix and a base-36 counter: cb1 … cb9, cba, …"""
    digits = ""
    while sequence:
        sequence, rest = divmod(sequence, 36)
        digits = _ALPHABET[rest] + digits
    return "cb" + (digits or "0")


def _stamp() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y/%m/%d %H:%M:%S")


class TasksMixin:
    store: Any
    fleet: Any

    def add_task_routes(self, r: Any, acr: str) -> None:
        g = acr + "/(?P<name>[^/]+)"
        run = g + "/runs/(?P<run>[^/]+)"
        r("POST", g + "/listbuildsourceuploadurl", NAMESPACE, self.get_build_source_upload_url)
        r("POST", g + "/schedulerun", NAMESPACE, self.schedule_run)
        r("GET", g + "/runs", NAMESPACE, self.list_runs)
        r("GET", run, NAMESPACE, self.get_run)
        r("POST", run + "/listlogsasurl", NAMESPACE, self.get_run_log_url)
        r("POST", run + "/cancel", NAMESPACE, self.cancel_run)

    # storage -------------------------------------------------------------------------------------
    def blob_storage(self) -> Any:
        """The blob host for sources and logs, started on first use (most sandboxes never build)."""
        with self.store.lock:
            storage = getattr(self, "_blob_storage", None)
            if storage is None:
                from ..build_source import BuildSourceStorage

                # The store file sits in the state dir; the daemon and tests keep TLS under state/tls.
                state_dir = Path(self.store.state_dir)
                storage = BuildSourceStorage(state_dir, state_dir / "tls")
                self._blob_storage = storage
            return storage

    # Registries_GetBuildSourceUploadUrl ---------------------------------------------------------
    def get_build_source_upload_url(self, body: Any, query: dict[str, str], rg: str, name: str) -> Response:
        registry = self.require_registry(rg, name)  # type: ignore[attr-defined]
        url, relative = self.blob_storage().new_upload(registry["body"]["name"].lower())
        return Response(200, {"uploadUrl": url, "relativePath": relative})

    # Registries_ScheduleRun ----------------------------------------------------------------------
    def schedule_run(self, body: Any, query: dict[str, str], rg: str, name: str) -> Response:
        request = body or {}
        kind = request.get("type")
        if kind != "DockerBuildRequest":
            raise bad_request(
                "InvalidRunRequest",
                f"The run request type '{kind}' is not supported by the sandbox; use DockerBuildRequest.",
            )
        if not request.get("dockerFilePath"):
            raise bad_request("InvalidRunRequest", "dockerFilePath is required for a DockerBuildRequest.")
        platform = request.get("platform") or {}
        if not platform.get("os"):
            raise bad_request("InvalidRunRequest", "platform.os is required for a DockerBuildRequest.")
        if str(platform["os"]).lower() != "linux":
            raise bad_request(
                "InvalidRunRequest", f"The sandbox builds Linux images only, not {platform['os']}."
            )
        storage = self.blob_storage()
        with self.store.lock:
            registry = self.require_registry(rg, name)  # type: ignore[attr-defined]
            reg_name = registry["body"]["name"].lower()
            location = str(request.get("sourceLocation") or "")
            if not location:
                raise bad_request(
                    "InvalidSourceLocation", "sourceLocation is required for a DockerBuildRequest."
                )
            source = storage.source_file(reg_name, location)
            if source is None:
                raise bad_request(
                    "InvalidSourceLocation",
                    "The source location is not a build source uploaded to this registry "
                    "(use the relativePath returned by listBuildSourceUploadUrl).",
                )
            existing = self.store.list(registry["id"], RUN_TYPE)
            run_id = run_id_for(len(existing) + 1)
            images = [self._image_name(str(n), run_id, registry) for n in request.get("imageNames") or []]
            push = bool(request.get("isPushEnabled", True))
            if push and not images:
                raise bad_request("InvalidRunRequest", "imageNames are required when isPushEnabled is true.")
            rid = f"{registry['id']}/runs/{run_id}"
            created = now_iso()
            out = {
                "id": rid,
                "name": run_id,
                "type": RUN_TYPE,
                "properties": {
                    "runId": run_id,
                    "status": "Queued",
                    "lastUpdatedTime": created,
                    "runType": "QuickRun",
                    "createTime": created,
                    "platform": {"os": "Linux", "architecture": platform.get("architecture") or "amd64"},
                    "agentConfiguration": {
                        "cpu": int((request.get("agentConfiguration") or {}).get("cpu") or 2)
                    },
                    "provisioningState": "Succeeded",
                    "isArchiveEnabled": bool(request.get("isArchiveEnabled", False)),
                },
            }
            self.store.put(rid, {"id": rid, "type": RUN_TYPE, "body": out})
        storage.append_log(reg_name, run_id, f"Queued a build with ID: {run_id}\nWaiting for an agent...\n")
        job = _RunJob(
            self,
            rid,
            reg_name,
            registry["body"]["properties"]["loginServer"],
            run_id,
            request,
            images,
            push,
            source,
        )
        threading.Thread(target=job.run, name=f"acr-run-{reg_name}-{run_id}", daemon=True).start()
        return Response(200, out)

    @staticmethod
    def _image_name(raw: str, run_id: str, registry: dict[str, Any]) -> str:
        name = raw.replace("{{.Run.ID}}", run_id).replace(
            "{{.Run.Registry}}", registry["body"]["properties"]["loginServer"]
        )
        login = registry["body"]["properties"]["loginServer"]
        name = name.removeprefix(login + "/")
        if not _IMAGE_NAME.match(name):
            raise bad_request("InvalidImageName", f"The image name '{raw}' is not a valid repository[:tag].")
        return name if ":" in name.rsplit("/", 1)[-1] else name + ":latest"

    # Runs ----------------------------------------------------------------------------------------
    def _require_run(self, rg: str, name: str, run: str) -> dict[str, Any]:
        registry = self.require_registry(rg, name)  # type: ignore[attr-defined]
        record = self.store.get(f"{registry['id']}/runs/{run}")
        if record is None:
            raise ArmError(404, "RunNotFound", f"The run '{run}' was not found in registry '{name}'.")
        return record

    def _interrupted(self, record: dict[str, Any]) -> dict[str, Any]:
        """A run whose worker thread is gone (daemon restart) will never finish: say so."""
        props = record["body"]["properties"]
        if props["status"] in TERMINAL:
            return record
        reg = record["id"].split("/registries/", 1)[1].split("/", 1)[0].lower()
        if any(t.name == f"acr-run-{reg}-{props['runId']}" for t in threading.enumerate()):
            return record
        with self.store.lock:
            props.update(
                status="Error",
                runErrorMessage="The run was interrupted by a sandbox restart.",
                finishTime=now_iso(),
                lastUpdatedTime=now_iso(),
            )
            self.store.put(record["id"], record)
        return record

    def get_run(self, body: Any, query: dict[str, str], rg: str, name: str, run: str) -> Response:
        return Response(200, self._interrupted(self._require_run(rg, name, run))["body"])

    def list_runs(self, body: Any, query: dict[str, str], rg: str, name: str) -> Response:
        registry = self.require_registry(rg, name)  # type: ignore[attr-defined]
        runs = [self._interrupted(r)["body"] for r in self.store.list(registry["id"], RUN_TYPE)]
        runs.sort(key=lambda b: b["properties"].get("createTime", ""), reverse=True)
        top = query.get("$top")
        if top and top.isdigit():
            runs = runs[: int(top)]
        return Response(200, {"value": runs})

    def get_run_log_url(self, body: Any, query: dict[str, str], rg: str, name: str, run: str) -> Response:
        record = self._require_run(rg, name, run)
        reg = record["id"].split("/registries/", 1)[1].split("/", 1)[0].lower()
        return Response(
            200, {"logLink": self.blob_storage().log_url(reg, record["body"]["properties"]["runId"])}
        )

    def cancel_run(self, body: Any, query: dict[str, str], rg: str, name: str, run: str) -> Response:
        """The engine build is not interrupted; the run is marked Canceled and pushes nothing more."""
        with self.store.lock:
            record = self._require_run(rg, name, run)
            props = record["body"]["properties"]
            if props["status"] not in TERMINAL:
                props.update(status="Canceled", finishTime=now_iso(), lastUpdatedTime=now_iso())
                self.store.put(record["id"], record)
        return Response(200, None)

    def update_run(self, rid: str, **changes: Any) -> dict[str, Any] | None:
        with self.store.lock:
            record = self.store.get(rid)
            if record is None:
                return None
            props = record["body"]["properties"]
            if props["status"] in TERMINAL:
                return props  # canceled meanwhile: the worker must not resurrect it
            props.update(changes, lastUpdatedTime=now_iso())
            self.store.put(rid, record)
            return props


class _RunJob:
    """One quick build on the stand-in's engine: build, tag, push, record digests, log everything."""

    def __init__(
        self,
        api: TasksMixin,
        rid: str,
        registry: str,
        login_server: str,
        run_id: str,
        request: dict[str, Any],
        images: list[str],
        push: bool,
        source: Path,
    ) -> None:
        self.api, self.rid, self.registry, self.login_server = api, rid, registry, login_server
        self.run_id, self.request, self.images, self.push, self.source = run_id, request, images, push, source
        self.storage = api.blob_storage()
        self.started = time.monotonic()

    def say(self, line: str) -> None:
        self.storage.append_log(self.registry, self.run_id, line.rstrip("\n") + "\n")

    def canceled(self) -> bool:
        record = self.api.store.get(self.rid)
        return record is None or record["body"]["properties"]["status"] == "Canceled"

    def run(self) -> None:
        outcome = "failed"
        try:
            self.api.update_run(self.rid, status="Running", startTime=now_iso())
            self.say(f"{_stamp()} Downloading source code...")
            self.say(f"{_stamp()} Finished downloading source code")
            outputs = self._build_and_push()
            if self.canceled():
                self.say(f"Run ID: {self.run_id} was canceled")
                outcome = "canceled"
                return
            elapsed = int(time.monotonic() - self.started)
            self.say(f"Run ID: {self.run_id} was successful after {elapsed}s")
            self.api.update_run(self.rid, status="Succeeded", finishTime=now_iso(), outputImages=outputs)
            outcome = "successful"
        except _RunFailed as exc:
            elapsed = int(time.monotonic() - self.started)
            self.say(f"Run ID: {self.run_id} failed after {elapsed}s. Error: {exc}")
            self.api.update_run(self.rid, status="Failed", finishTime=now_iso(), runErrorMessage=str(exc))
        except Exception as exc:
            log.exception("run %s in %s crashed", self.run_id, self.registry)
            self.say(f"Run ID: {self.run_id} failed: sandbox error {type(exc).__name__}")
            self.api.update_run(
                self.rid,
                status="Error",
                finishTime=now_iso(),
                runErrorMessage=f"sandbox error: {type(exc).__name__}",
            )
        finally:
            self.storage.complete_log(self.registry, self.run_id, outcome)

    def _client(self) -> Any:
        import docker

        host = os.environ.get("DOCKER_HOST")
        try:
            client = (
                docker.APIClient(base_url=host, timeout=600) if host else docker.from_env(timeout=600).api
            )
            client.ping()
        except docker.errors.DockerException as exc:
            raise _RunFailed(f"the sandbox has no Docker engine to build with: {exc}") from exc
        return client

    def _platform(self, client: Any) -> str | None:
        """Pass --platform only when it differs from the engine's own (the classic builder is picky)."""
        arch = str((self.request.get("platform") or {}).get("architecture") or "").lower()
        engine = client.version()
        if not arch or arch == str(engine.get("Arch", "")).lower():
            return None
        return f"linux/{arch}"

    def _build_and_push(self) -> list[dict[str, str]]:
        import docker

        client = self._client()
        args = {a["name"]: a.get("value", "") for a in self.request.get("arguments") or [] if a.get("name")}
        secret_args = {a["name"] for a in self.request.get("arguments") or [] if a.get("isSecret")}
        references = [f"{self.login_server}/{image}" for image in self.images] or [
            f"acr-task-{self.run_id}:latest"
        ]
        self.say(f"{_stamp()} Setting up Docker configuration...")
        self.say(
            f"{_stamp()} Executing step ID: build. Timeout(sec): {self.request.get('timeout', 3600)}, "
            f"Working directory: '', Network: ''"
        )
        shown = " ".join(f"--build-arg {k}={'*****' if k in secret_args else v}" for k, v in args.items())
        self.say(f"{_stamp()} Scanning for dependencies...")
        self.say(f"{_stamp()} Launching container with name: build")
        self.say(
            f"docker build -f {self.request['dockerFilePath']} {shown} "
            + " ".join(f"-t {r}" for r in references)
            + " ."
        )
        image_id = None
        try:
            with self.source.open("rb") as fileobj:
                for event in client.build(
                    fileobj=fileobj,
                    custom_context=True,
                    encoding="gzip",
                    dockerfile=self.request["dockerFilePath"],
                    tag=references[0],
                    buildargs=args,
                    target=self.request.get("target") or None,
                    platform=self._platform(client),
                    nocache=bool(self.request.get("noCache", False)),
                    pull=False,
                    rm=True,
                    forcerm=True,
                    decode=True,
                ):
                    if "error" in event or "errorDetail" in event:
                        message = event.get("error") or (event.get("errorDetail") or {}).get("message") or ""
                        self.say(str(message).strip())
                        raise _RunFailed("failed during run, err: exit status 1")
                    text = str(event.get("stream", "")).rstrip()
                    for line in text.splitlines():
                        if line.strip():
                            self.say(line)
                    aux = event.get("aux")
                    if isinstance(aux, dict) and aux.get("ID"):
                        image_id = str(aux["ID"])
        except docker.errors.APIError as exc:
            self.say(str(exc.explanation or exc))
            raise _RunFailed("failed during run, err: exit status 1") from exc
        if not image_id:
            raise _RunFailed("failed during run, err: the build produced no image")
        for extra in references[1:]:
            repo, _, tag = extra.rpartition(":")
            client.tag(image_id, repo, tag)
        self.say(f"{_stamp()} Successfully executed container: build")
        if not self.push or self.canceled():
            return []
        return [self._push(client, reference) for reference in references]

    def _push(self, client: Any, reference: str) -> dict[str, str]:
        repo, _, tag = reference.rpartition(":")
        self.say(
            f"{_stamp()} Executing step ID: push. Timeout(sec): 3600, Working directory: '', Network: ''"
        )
        self.say(f"{_stamp()} Pushing image: {reference}, attempt 1")
        token = self.api.fleet.mint_refresh_token(self.registry, subject="acr-tasks")
        auth = {"username": ACR_USER, "password": token, "serveraddress": self.login_server}
        digest = None
        for event in client.push(repo, tag=tag, auth_config=auth, stream=True, decode=True):
            if "error" in event or "errorDetail" in event:
                message = (
                    event.get("error") or (event.get("errorDetail") or {}).get("message") or "push failed"
                )
                self.say(str(message).strip())
                raise _RunFailed(f"failed to push image {reference}: {message}")
            if event.get("status") and event.get("id"):
                self.say(f"{event['id']}: {event['status']}")
            aux = event.get("aux")
            if isinstance(aux, dict) and aux.get("Digest"):
                digest = str(aux["Digest"])
        if not digest:
            raise _RunFailed(f"failed to push image {reference}: no digest reported")
        self.say(f"{tag}: digest: {digest}")
        self.say(f"{_stamp()} Successfully pushed image: {reference}")
        repository = repo.removeprefix(self.login_server + "/")
        self.say(
            f"- image:\n    registry: {self.login_server}\n    repository: {repository}\n"
            f"    tag: {tag}\n    digest: {digest}"
        )
        return {"registry": self.login_server, "repository": repository, "tag": tag, "digest": digest}


class _RunFailed(Exception):
    """The run ends Failed with this message as runErrorMessage."""
