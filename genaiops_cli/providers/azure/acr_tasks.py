"""Remote builds with ACR Tasks (azure-mgmt-containerregistrytasks, api-version 2025-03-01-preview).

What `az acr build` does, without a local Docker engine: ask the registry for a build-source upload
URL (a blob SAS URL), PUT the gzipped context there, schedule a DockerBuildRequest run that pushes,
then follow the run (Runs_Get) and tail its log blob (Runs_GetLogSasUrl) until it ends. The context
sent is exactly the file set the source hash covers (core.build_context), packed the same way as a
local build. SAS URLs are credentials: they are never printed, logged or put in an error message."""

from __future__ import annotations

import gzip
import ssl
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from genaiops_cli.errors import AuthError, BuildError
from genaiops_cli.providers.azure import clients

if TYPE_CHECKING:
    from azure.mgmt.containerregistrytasks import ContainerRegistryTasksMgmtClient

    from genaiops_cli.core.build_context import BuildContext
    from genaiops_cli.core.cloud import AzureTarget

LineFn = Callable[[str], None]
TERMINAL = {"Succeeded", "Failed", "Canceled", "Error", "Timeout"}
POLL_SECONDS = 1.0
DEFAULT_TIMEOUT = 3600
LOG_TAIL = 25


@dataclass
class RemoteBuild:
    run_id: str
    digest: str
    images: list[dict[str, str]] = field(default_factory=list)
    log_tail: list[str] = field(default_factory=list)


@lru_cache(maxsize=8)
def tasks_client(target: AzureTarget) -> ContainerRegistryTasksMgmtClient:
    from azure.mgmt.containerregistrytasks import ContainerRegistryTasksMgmtClient

    return clients.arm_client(ContainerRegistryTasksMgmtClient, target)


def registry_resource(target: AzureTarget, resource_group: str, registry: str) -> tuple[str, str]:
    """(resource group, registry name) for a manifest `registry:` that is a name or a login server."""
    from genaiops_cli.providers.azure import acr

    if not acr.is_login_server(registry):
        return resource_group, registry
    management = clients.registry_management(target)
    wanted = registry.lower()
    for found in list(management.registries.list_by_resource_group(resource_group)) + list(
        management.registries.list()
    ):
        if (found.login_server or "").lower() == wanted and found.id:
            return found.id.split("/resourceGroups/", 1)[1].split("/", 1)[0], str(found.name)
    raise BuildError(
        f"no registry resource with login server {registry} in this subscription",
        hint="ACR Tasks need the registry resource: set `registry:` to its name",
    )


def context_tarball(context: BuildContext) -> bytes:
    from genaiops_cli.providers.docker.builder import context_tar  # pure tar packing, no engine call

    return gzip.compress(context_tar(context).getvalue(), mtime=0)


def _ssl_context(verify: str | bool) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=verify if isinstance(verify, str) else None)


def _blob_request(
    url: str,
    verify: str | bool,
    method: str = "GET",
    data: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    """One request to a SAS URL. Errors name the status, never the URL (it carries the signature)."""
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, context=_ssl_context(verify), timeout=120) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers or {}), exc.read()
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise BuildError(
            f"registry build storage unreachable ({type(reason).__name__})",
            hint="check the network path to the registry's storage",
        ) from None


def _azure_call(what: str, call: Callable[[], Any]) -> Any:
    from azure.core.exceptions import ClientAuthenticationError, HttpResponseError

    try:
        return call()
    except ClientAuthenticationError as exc:
        raise AuthError(
            f"{what}: not authorized ({exc.message})",
            hint="the identity needs Contributor (or AcrTasks rights) on the registry",
        ) from exc
    except HttpResponseError as exc:
        code = exc.error.code if exc.error else exc.status_code
        raise BuildError(f"{what} failed: {code}: {exc.message}") from exc


class _LogTail:
    """Reads the run's log blob from where it left off and hands complete lines on."""

    def __init__(self, url: str, verify: str | bool, on_line: LineFn | None) -> None:
        self.url, self.verify, self.on_line = url, verify, on_line
        self.offset = 0
        self.partial = b""
        self.tail: deque[str] = deque(maxlen=LOG_TAIL)

    def read(self, final: bool = False) -> None:
        status, _, body = _blob_request(self.url, self.verify, headers={"Range": f"bytes={self.offset}-"})
        if status in (200, 206):
            if status == 200:  # the store ignored Range: skip what was already read
                body = body[self.offset :]
            self.offset += len(body)
            data = self.partial + body
            lines = data.split(b"\n")
            self.partial = lines.pop()
            for raw in lines:
                self._emit(raw)
        if final and self.partial:
            self._emit(self.partial)
            self.partial = b""

    def _emit(self, raw: bytes) -> None:
        line = raw.decode("utf-8", errors="replace").rstrip("\r")
        if not line.strip():
            return
        self.tail.append(line)
        if self.on_line:
            self.on_line(line)


def remote_build(
    target: AzureTarget,
    resource_group: str,
    registry_name: str,
    context: BuildContext,
    images: list[str],
    build_args: dict[str, str],
    platform: str | None,
    stage: str | None,
    no_cache: bool,
    on_line: LineFn | None = None,
    poll_seconds: float = POLL_SECONDS,
    timeout: int = DEFAULT_TIMEOUT,
) -> RemoteBuild:
    """Build `images` (`repository:tag`, first one is the identity) in the registry; return the digest."""
    from azure.mgmt.containerregistrytasks import models

    client = tasks_client(target)
    where = f"registry {registry_name}"
    upload = _azure_call(
        f"{where}: build-source upload URL",
        lambda: client.registries.get_build_source_upload_url(resource_group, registry_name),
    )
    tarball = context_tarball(context)
    if on_line:
        on_line(f"uploading the build context ({len(tarball) / 1024:.0f} KiB, {context.file_count} files)")
    status, _, _ = _blob_request(
        upload.upload_url,
        target.verify,
        "PUT",
        tarball,
        {"x-ms-blob-type": "BlockBlob", "Content-Type": "application/gzip"},
    )
    if status not in (200, 201):
        raise BuildError(
            f"{where}: uploading the build context failed with HTTP {status}",
            hint="the upload URL may have expired; run the build again",
        )
    os_name, _, arch = (platform or "linux/amd64").partition("/")
    arch, _, variant = (arch or "amd64").partition("/")
    request = models.DockerBuildRequest(
        source_location=upload.relative_path,
        docker_file_path=context.dockerfile,
        image_names=images,
        is_push_enabled=True,
        no_cache=no_cache,
        target=stage,
        arguments=[models.Argument(name=k, value=v, is_secret=False) for k, v in sorted(build_args.items())],
        platform=models.PlatformProperties(
            os=os_name.capitalize(), architecture=arch, variant=variant or None
        ),
        timeout=max(300, min(timeout, 28800)),
    )
    run = _azure_call(
        f"{where}: schedule run",
        lambda: client.registries.schedule_run(resource_group, registry_name, request),
    )
    run_id = str(run.run_id or run.name)
    if on_line:
        on_line(f"queued run {run_id} in {registry_name}")
    log_link = _azure_call(
        f"{where}: run {run_id} log",
        lambda: client.runs.get_log_sas_url(resource_group, registry_name, run_id),
    ).log_link
    logs = _LogTail(str(log_link), target.verify, on_line)

    def finished() -> Any:
        logs.read()
        current = _azure_call(
            f"{where}: run {run_id}", lambda: client.runs.get(resource_group, registry_name, run_id)
        )
        return current if current.status in TERMINAL else None

    def cancel() -> BuildError:
        _azure_call(
            f"{where}: cancel run {run_id}",
            lambda: client.runs.cancel(resource_group, registry_name, run_id),
        )
        return BuildError(
            f"remote build {run_id} did not finish in {timeout} s; canceled",
            details={"log": list(logs.tail)},
        )

    if run.status not in TERMINAL:
        from genaiops_cli.core.retrying import poll

        run = poll(finished, timeout=timeout + 60, interval=poll_seconds, on_timeout=cancel)
    logs.read(final=True)
    if run.status != "Succeeded":
        message = run.run_error_message or "see the run log"
        raise BuildError(
            f"remote build {run_id} in {registry_name} {str(run.status).lower()}: {message}",
            hint=f"the run log's last lines are shown above (with -o json: error.details.log); "
            f"all of it: `az acr task logs --run-id {run_id}`",
            details={"log": list(logs.tail), "run_id": run_id},
        )
    outputs = [dict(i) for i in (run.output_images or [])]
    repository, _, tag = images[0].rpartition(":")
    digest = next(
        (o.get("digest") for o in outputs if o.get("repository") == repository and o.get("tag") == tag), None
    )
    if not digest:
        raise BuildError(
            f"remote build {run_id} succeeded but reported no digest for {images[0]}",
            details={"log": list(logs.tail), "run_id": run_id},
        )
    return RemoteBuild(run_id, str(digest), outputs, list(logs.tail))


class AcrTasksBuilder:
    """core.ports.RemoteBuilder over ACR Tasks for one environment's registry."""

    def __init__(self, target: AzureTarget, resource_group: str, registry: str) -> None:
        self.target = target
        self.resource_group = resource_group
        self.registry = registry
        self._resource: tuple[str, str] | None = None

    def resource(self) -> tuple[str, str]:
        if self._resource is None:
            self._resource = registry_resource(self.target, self.resource_group, self.registry)
        return self._resource

    def build(
        self,
        context: BuildContext,
        images: list[str],
        build_args: dict[str, str],
        platform: str | None,
        stage: str | None,
        no_cache: bool,
        on_line: LineFn | None = None,
    ) -> RemoteBuild:
        group, name = self.resource()
        return remote_build(
            self.target, group, name, context, images, build_args, platform, stage, no_cache, on_line
        )
