"""Move an image between registries by digest, never changing it.

- same registry, same repository: nothing to copy; one manifest read + one manifest write puts a
  human tag on the digest (original bytes, so the digest is unchanged);
- another registry: blobs the target lacks are copied in parallel (one GET, one POST+PUT each),
  then the manifest's original bytes; the digest the target reports is checked;
- both ACR in one cloud: server-side Registries_ImportImage (copies only missing blobs).
Every path first asks whether the target already has the digest, so a re-run copies nothing."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from genaiops_cli.core.cloud import AzureTarget
from genaiops_cli.core.ports import CopyResult
from genaiops_cli.errors import AuthError, BuildError, GenAIOpsError
from genaiops_cli.providers.azure.registry_raw import RawRegistry, raw_registry

INDEX_TYPES = {
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
}
PARALLEL = 6


@dataclass(frozen=True)
class RegistryRef:
    target: AzureTarget
    login_server: str
    resource_group: str | None = None
    name: str | None = None  # ACR resource name, when known (enables importImage)

    @property
    def resource_id(self) -> str | None:
        if not (self.name and self.resource_group):
            return None
        return (
            f"/subscriptions/{self.target.subscription_id}/resourceGroups/{self.resource_group}"
            f"/providers/Microsoft.ContainerRegistry/registries/{self.name}"
        )


def copy_image(
    src: RegistryRef, dst: RegistryRef, repository: str, digest: str, tag: str | None, method: str = "auto"
) -> CopyResult:
    """Ensure `dst` holds `repository@digest` (tagged `tag`). method: auto | blobs | import."""
    started = time.perf_counter()
    dst_raw = raw_registry(dst.target, dst.login_server)
    if src.login_server == dst.login_server:
        result = _retag(dst_raw, repository, digest, tag)
    elif method == "import" or (method == "auto" and _can_import(src, dst)):
        if dst_raw.has_manifest(repository, digest):
            result = _present(dst_raw, repository, digest, tag)
        else:
            result = _import(src, dst, repository, digest, tag)
    else:
        result = _copy_blobs(raw_registry(src.target, src.login_server), dst_raw, repository, digest, tag)
    result.seconds = time.perf_counter() - started
    return result


def _can_import(src: RegistryRef, dst: RegistryRef) -> bool:
    # Import by resource id needs both registries in one cloud and the source's ARM id.
    return bool(
        src.resource_id
        and dst.name
        and dst.resource_group
        and src.target.arm_endpoint == dst.target.arm_endpoint
    )


def _retag(raw: RawRegistry, repository: str, digest: str, tag: str | None) -> CopyResult:
    if not tag:
        if not raw.has_manifest(repository, digest):
            raise BuildError(f"{raw.login_server}/{repository}@{digest} not found")
        return CopyResult(repository, digest, "present")
    raw.will_write(repository)  # one pull,push token for the GET and the PUT
    found = raw.get_manifest(repository, digest)
    if found is None:
        raise BuildError(f"{raw.login_server}/{repository}@{digest} not found", code="image_not_found")
    data, media_type, _ = found
    raw.put_manifest(repository, tag, data, media_type)
    return CopyResult(repository, digest, "retag", tag=tag)


def _present(raw: RawRegistry, repository: str, digest: str, tag: str | None) -> CopyResult:
    result = CopyResult(repository, digest, "present")
    if tag:
        _retag(raw, repository, digest, tag)
        result.tag = tag
    return result


def _signed_in_probe(dst: RawRegistry, repository: str, digest: str) -> bool:
    """Sign in to the destination for writing (Entra → ACR exchange, one pull,push token that the
    probe, the blob uploads and the manifest PUT all use), then ask whether it holds the digest."""
    try:
        dst.will_write(repository)
    except AuthError:
        pass  # no push right: a pull token still answers "already there?"; a write would fail later
    return dst.has_manifest(repository, digest)


def _copy_blobs(
    src: RawRegistry, dst: RawRegistry, repository: str, digest: str, tag: str | None
) -> CopyResult:
    result = CopyResult(repository, digest, "blobs", tag=tag)
    # The destination's sign-in and its "already there?" probe do not depend on the source: they run
    # while the source manifest is read instead of before it (three round trips off the path).
    with ThreadPoolExecutor(max_workers=1) as side:
        present = side.submit(_signed_in_probe, dst, repository, digest)
        try:
            found = src.get_manifest(repository, digest)
        except GenAIOpsError:
            if present.result():  # the target has it: the source's state does not matter
                return _present(dst, repository, digest, tag)
            raise
        if present.result():
            return _present(dst, repository, digest, tag)
    if found is None:
        raise BuildError(f"{src.login_server}/{repository}@{digest} not found", code="image_not_found")
    _copy_manifest_tree(src, dst, repository, found, result)
    data, media_type, _ = found
    stored = dst.put_manifest(repository, tag or digest, data, media_type)
    if stored != digest:
        raise BuildError(f"copy of {repository}@{digest} arrived as {stored}")
    return result


def _copy_manifest_tree(
    src: RawRegistry, dst: RawRegistry, repository: str, found: tuple[bytes, str, str], result: CopyResult
) -> None:
    data, media_type, _ = found
    doc = json.loads(data)
    if media_type in INDEX_TYPES or doc.get("manifests"):
        for child in doc.get("manifests") or []:
            if dst.has_manifest(repository, child["digest"]):
                continue
            sub = src.get_manifest(repository, child["digest"])
            if sub is None:
                continue  # a platform the source never had: ACR import skips it as well
            _copy_manifest_tree(src, dst, repository, sub, result)
            dst.put_manifest(repository, child["digest"], sub[0], sub[1])
        return
    blobs = [doc["config"]] + list(doc.get("layers") or [])

    def move(blob: dict[str, Any]) -> int:
        if dst.has_blob(repository, blob["digest"]):
            return -1
        if "size" in blob:
            try:
                return src.stream_blob_to(dst, repository, blob)
            except (GenAIOpsError, httpx.HTTPError):
                pass  # once more the buffered way, which retries and re-checks the digest
        payload = src.get_blob(repository, blob["digest"])
        dst.put_blob(repository, blob["digest"], payload)
        return len(payload)

    import httpx

    # Largest first: the biggest layer is the copy's critical path, so it must not wait for a worker.
    blobs.sort(key=lambda b: -int(b.get("size") or 0))
    with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        for moved in pool.map(move, blobs):
            if moved >= 0:
                result.blobs_copied += 1
                result.bytes_copied += moved


def _import(src: RegistryRef, dst: RegistryRef, repository: str, digest: str, tag: str | None) -> CopyResult:
    from genaiops_cli.errors import BuildError as Err
    from genaiops_cli.providers.azure import clients
    from genaiops_cli.providers.azure.arm_errors import arm_errors, wait_lro

    body: dict[str, Any] = {
        "source": {"resourceId": src.resource_id, "sourceImage": f"{repository}@{digest}"},
        "mode": "Force",  # idempotent: the tag is release-specific and the digest fixed
    }
    if tag:
        body["targetTags"] = [f"{repository}:{tag}"]
    else:
        body["untaggedTargetRepositories"] = [repository]
    action = f"import {repository}@{digest[:19]} into {dst.login_server}"
    with arm_errors(action, Err):
        poller = clients.registry_management(dst.target).registries.begin_import_image(
            dst.resource_group, dst.name, body
        )
        wait_lro(poller, 600, action, Err, None)
    if not raw_registry(dst.target, dst.login_server).has_manifest(repository, digest):
        raise Err(f"{action}: the target does not hold {digest} afterwards")
    return CopyResult(repository, digest, "import", tag=tag)
