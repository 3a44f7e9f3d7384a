"""Image builds and pushes over the Docker engine API (docker-py's low-level client).

The build context sent is exactly the file set that was hashed (core.build_context), packed as a
deterministic tar, so "same source hash" really means "same build input". Every streamed event is
checked: the engine reports build and push failures inside an HTTP 200 stream."""

from __future__ import annotations

import io
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from genaiops_cli.core.build_context import BuildContext
from genaiops_cli.errors import AuthError, BuildError
from genaiops_cli.providers.docker.engine import api_client

ProgressFn = Callable[[str], None]


def context_tar(context: BuildContext) -> io.BytesIO:
    import tarfile  # here, not at the top: a no-op build never builds a tar (~10 ms of import)

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for entry in context.files:
            info = tarfile.TarInfo(entry.path)
            info.mtime = 0  # deterministic: timestamps are not build input
            info.uid = info.gid = 0
            info.mode = entry.mode
            full = context.root / entry.path
            if entry.kind == "dir":
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            elif entry.kind == "symlink":
                import os

                info.type = tarfile.SYMTYPE
                info.linkname = os.readlink(full)
                tar.addfile(info)
            else:
                data = full.read_bytes()
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    buffer.seek(0)
    return buffer


@dataclass(frozen=True)
class BuiltImage:
    image_id: str
    log_tail: list[str]


def image_id(reference: str) -> str | None:
    """The local image's id, or None. Asked over plain HTTP first (a no-op build never imports docker-py);
    docker-py answers when that path can't (TLS or ssh engines, engine down → its clear error)."""
    from urllib.parse import quote

    from genaiops_cli.providers.docker.engine import EngineUnreachable, engine_get_json

    try:
        status, body = engine_get_json(f"/images/{quote(reference, safe='')}/json")
    except EngineUnreachable:
        pass
    else:
        if status == 200 and isinstance(body, dict) and body.get("Id"):
            return str(body["Id"])
        if status == 404:
            return None
    import docker

    try:
        return str(api_client().inspect_image(reference)["Id"])
    except docker.errors.ImageNotFound:
        return None


def build(
    context: BuildContext,
    tags: list[str],
    build_args: dict[str, str],
    labels: dict[str, str],
    platform: str | None,
    target: str | None,
    no_cache: bool,
    on_line: ProgressFn | None = None,
) -> BuiltImage:
    import docker

    client = api_client()
    tail: deque[str] = deque(maxlen=25)
    built_id: str | None = None
    try:
        events: Iterator[dict[str, Any]] = client.build(
            fileobj=context_tar(context),
            custom_context=True,
            dockerfile=context.dockerfile,
            tag=tags[0],
            buildargs=build_args,
            labels=labels,
            platform=platform,
            target=target,
            nocache=no_cache,
            pull=False,
            rm=True,
            forcerm=True,
            decode=True,
        )
        for event in events:
            if "error" in event or "errorDetail" in event:
                message = event.get("error") or event.get("errorDetail", {}).get("message", "build failed")
                raise BuildError(
                    f"build failed: {message.strip()}",
                    hint="the build output's last lines are shown above (with -o json: error.details.log)",
                    details={"log": list(tail)},
                )
            line = str(event.get("stream", "")).rstrip()
            if line:
                tail.append(line)
                if on_line:
                    on_line(line)
            aux = event.get("aux")
            if isinstance(aux, dict) and aux.get("ID"):
                built_id = str(aux["ID"])
    except docker.errors.APIError as exc:
        raise BuildError(
            f"the engine rejected the build: {exc.explanation or exc}", details={"log": list(tail)}
        ) from exc
    if not built_id:
        raise BuildError("the engine reported no image id for the build", details={"log": list(tail)})
    for extra in tags[1:]:
        repo, _, tag = extra.rpartition(":")
        client.tag(built_id, repo, tag)
    return BuiltImage(built_id, list(tail))


def tag(source: str, repository: str, tag_name: str) -> None:
    api_client().tag(source, repository, tag_name)


def push(repository: str, tag: str, auth: dict[str, str] | None, on_status: ProgressFn | None = None) -> str:
    """Push repository:tag; return the digest the engine reports. Raises on any error event."""
    import docker

    client = api_client()
    digest: str | None = None
    try:
        for event in client.push(repository, tag=tag, auth_config=auth, stream=True, decode=True):
            if "error" in event or "errorDetail" in event:
                message = str(
                    event.get("error") or event.get("errorDetail", {}).get("message", "push failed")
                )
                if "unauthorized" in message.lower() or "authentication required" in message.lower():
                    raise AuthError(
                        f"push to {repository} unauthorized: {message}",
                        hint="grant AcrPush on the registry to this identity",
                    )
                raise BuildError(f"push of {repository}:{tag} failed: {message}")
            aux = event.get("aux")
            if isinstance(aux, dict) and aux.get("Digest"):
                digest = str(aux["Digest"])
            status = event.get("status")
            if status and on_status:
                on_status(f"{event.get('id', '')} {status}".strip())
    except docker.errors.APIError as exc:
        raise BuildError(f"push of {repository}:{tag} failed: {exc.explanation or exc}") from exc
    if not digest:
        raise BuildError(f"push of {repository}:{tag} ended without a digest")
    return digest
