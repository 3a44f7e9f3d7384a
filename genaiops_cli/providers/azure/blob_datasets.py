"""The DatasetStore port on the environment's storage account (azure-storage-blob, Entra only).

Layout in the container `genaiops-datasets`:
  <name>/<version>/files/<relative path>   the dataset's bytes
  <name>/<version>/dataset.json             its record (JSON), written last; its blob metadata
                                            carries the record's summary so listing needs no reads
Versions are content addresses (core/datasets.py), so a version's blobs never change: uploads use
If-None-Match (overwrite=False) and an existing blob is left as it is.

Authentication is the environment's credential with the storage audience — never an account key,
never a SAS; nothing here prints a URL with a query string."""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from genaiops_cli.core.cloud import AzureTarget
from genaiops_cli.errors import BuildError, GenAIOpsError
from genaiops_cli.providers.azure.blob_lock import account_url, raise_if_denied, sandbox_account
from genaiops_cli.providers.azure.clients import _transport_kwargs, credential, storage_retry

CONTAINER = "genaiops-datasets"
RECORD = "dataset.json"
# The SDK uploads in one Put Blob up to this size, above it in Put Block + Put Block List.
SINGLE_PUT = 4 * 1024 * 1024
STORAGE_HINT = (
    "the storage account failed or was unreachable past the retries (usually transient): re-run "
    "the command; a push continues where it stopped"
)


@lru_cache(maxsize=16)
def _container(target: AzureTarget, url: str) -> Any:
    from azure.storage.blob import BlobServiceClient

    service = BlobServiceClient(
        url,
        credential=credential(target),
        max_single_put_size=SINGLE_PUT,
        max_block_size=SINGLE_PUT,
        retry_policy=storage_retry(),
        **_transport_kwargs(target),
    )
    return service.get_container_client(CONTAINER)


class BlobDatasets:
    def __init__(self, target: AzureTarget, account: str) -> None:
        url = account_url(target, account)
        self.location = f"{url}/{CONTAINER}"
        self._container = _container(target, url)
        self._ready = False

    def url(self, name: str, version: str, path: str = "") -> str:
        """The blob (or folder) URL of a version's file: the container client's URL carries no
        query string (Entra auth), and any is stripped so a registry never receives one."""
        from urllib.parse import quote, urlsplit

        base = urlsplit(self._container.url)._replace(query="", fragment="").geturl().rstrip("/")
        return f"{base}/{quote(f'{name}/{version}/files/{path}'.rstrip('/'))}"

    def _ensure(self) -> None:
        from azure.core.exceptions import ResourceExistsError

        if not self._ready:
            try:
                self._container.create_container()
            except ResourceExistsError:
                pass
            self._ready = True

    def names(self) -> list[str]:
        with _errors("list datasets"):
            found = {b.name.split("/", 1)[0] for b in self._records("")}
        return sorted(found)

    def versions(self, name: str) -> list[Mapping[str, Any]]:
        with _errors(f"list the versions of {name}"):
            return [_summary(b.metadata or {}) for b in self._records(f"{name}/")]

    def _records(self, prefix: str) -> list[Any]:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            blobs = self._container.list_blobs(name_starts_with=prefix, include=["metadata"])
            return [b for b in blobs if b.name.endswith(f"/{RECORD}") and b.name.count("/") == 2]
        except ResourceNotFoundError:  # no container yet: no dataset yet
            return []

    def put(self, name: str, version: str, files: Mapping[str, bytes], record: Mapping[str, Any]) -> bool:
        from azure.core.exceptions import ResourceExistsError

        with _errors(f"upload {name}@{version}"):
            self._ensure()
            if any(v.get("version") == version for v in self.versions(name)):
                return False
            for rel, data in files.items():
                try:
                    self._container.upload_blob(f"{name}/{version}/files/{rel}", data, overwrite=False)
                except ResourceExistsError:  # an interrupted earlier push of the same bytes
                    pass
            meta = {
                "genaiopsversion": version,
                "genaiopssha256": str(record["sha256"]),
                "genaiopscreated": str(record["created"]),
                "genaiopsbytes": str(record["bytes"]),
                "genaiopsfiles": str(len(files)),
                "genaiopsname": name,
            }
            body = json.dumps(record, sort_keys=True, indent=1).encode()
            try:
                self._container.upload_blob(
                    f"{name}/{version}/{RECORD}", body, overwrite=False, metadata=meta
                )
            except ResourceExistsError:  # a concurrent push of the same bytes won
                return False
        return True

    def record(self, name: str, version: str) -> dict[str, Any]:
        with _errors(f"read {name}@{version}"):
            raw = self._container.download_blob(f"{name}/{version}/{RECORD}").readall()
        return dict(json.loads(raw))

    def read(self, name: str, version: str, path: str) -> bytes:
        from azure.core.exceptions import ResourceNotFoundError

        with _errors(f"download {name}@{version}"):
            try:
                return bytes(self._container.download_blob(f"{name}/{version}/files/{path}").readall())
            except ResourceNotFoundError:
                raise KeyError(path) from None


def _summary(meta: Mapping[str, str]) -> dict[str, Any]:
    return {
        "name": meta.get("genaiopsname", ""),
        "version": meta.get("genaiopsversion", ""),
        "sha256": meta.get("genaiopssha256", ""),
        "created": meta.get("genaiopscreated", ""),
        "bytes": int(meta.get("genaiopsbytes") or 0),
        "file_count": int(meta.get("genaiopsfiles") or 0),
    }


class _errors:
    """SDK failures as our errors: auth → exit 4; a storage account that failed or was unreachable
    past the SDK's retries (an upload, a listing, a download alike) → exit 6 `storage_failed`, as a
    registry that does (registry_raw.py): nothing is left half-done (a version's record is written
    last, reads change nothing), so re-running the command is the remedy, never a bug report."""

    def __init__(self, what: str) -> None:
        self.what = what

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, exc: Any, tb: Any) -> bool:
        if exc is None or isinstance(exc, (GenAIOpsError, KeyError)):
            return False
        from azure.core.exceptions import AzureError

        raise_if_denied(
            exc, f"not allowed to {self.what}: {getattr(exc, 'error_code', '') or type(exc).__name__}"
        )
        if isinstance(exc, AzureError):
            code = getattr(exc, "error_code", None) or type(exc).__name__
            raise BuildError(
                f"could not {self.what}: {code}",
                hint=STORAGE_HINT,
                code="storage_failed",
            ) from None
        return False


def dataset_store(target: AzureTarget, resource_group: str, account: str | None) -> BlobDatasets | None:
    if account is None and target.blob_endpoint:
        account = sandbox_account(target, resource_group)
    return BlobDatasets(target, account) if account else None
