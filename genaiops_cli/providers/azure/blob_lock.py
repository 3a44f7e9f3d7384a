"""Environment locks as blob leases (azure-storage-blob), on the environment's storage account.

The lock is the blob `genaiops-locks/<environment>.lock`; holding the environment = holding the
blob's lease. Azure Storage grants a lease atomically (a second acquire gets 409
LeaseAlreadyPresent), so two live holders cannot exist; a lease not renewed expires by itself, so
a killed holder frees the environment within the lease duration. The holder's record (owner,
operation, reason, host, times) is the blob's metadata, written under the lease.

Which account: the one `genaiops provision` created (its `storageAccountName` output) on Azure; on
the local stand-in, every account name is served at the profile's `blob_endpoint`, so a name is
derived from the subscription and resource group."""

from __future__ import annotations

import contextlib
import hashlib
import json
from functools import lru_cache
from typing import Any

from genaiops_cli.core.cloud import AzureTarget
from genaiops_cli.core.lock import LeaseLost, LockRecord
from genaiops_cli.errors import AuthError, GenAIOpsError, LockedError
from genaiops_cli.providers.azure.clients import _transport_kwargs, credential

CONTAINER = "genaiops-locks"
STORAGE_SCOPE = "https://storage.azure.com/.default"
META_KEY = "genaiopslock"  # the whole LockRecord as JSON in one metadata value (ASCII, one line)


def sandbox_account(target: AzureTarget, resource_group: str) -> str:
    digest = hashlib.sha256(f"{target.subscription_id}/{resource_group}".lower().encode()).hexdigest()
    return "gops" + digest[:20]


def account_url(target: AzureTarget, account: str) -> str:
    if target.blob_endpoint:  # the stand-in: path-style, like Azure Storage's emulator
        return f"{target.blob_endpoint.rstrip('/')}/{account}"
    return f"https://{account}.blob.{target.storage_suffix}"  # the sovereign clouds' suffixes differ


@lru_cache(maxsize=16)
def _service(target: AzureTarget, url: str) -> Any:
    from azure.storage.blob import BlobServiceClient, ExponentialRetry

    # The SDK's default backoff (18 s, then 24 s, 42 s) would let one throttled renew outlast the
    # 30 s lease it renews; lock requests are tiny, so retry them within seconds (≈2, 2.75, 3.9 s).
    retry = ExponentialRetry(initial_backoff=0.5, increment_base=1.5, retry_total=3, random_jitter_range=0.5)
    return BlobServiceClient(
        url, credential=credential(target), retry_policy=retry, **_transport_kwargs(target)
    )


class BlobLeaseLock:
    """LeaseBackend over one lock blob."""

    def __init__(self, target: AzureTarget, account: str, environment: str) -> None:
        self.url = account_url(target, account)
        self.location = f"{self.url}/{CONTAINER}/{environment}.lock"
        self._service = _service(target, self.url)
        self._blob = self._service.get_blob_client(CONTAINER, f"{environment}.lock")
        self._ready = False

    def _ensure_blob(self) -> None:
        from azure.core.exceptions import HttpResponseError, ResourceExistsError

        if self._ready:
            return
        try:
            self._service.get_container_client(CONTAINER).create_container()
        except ResourceExistsError:
            pass
        try:
            self._blob.upload_blob(b"", overwrite=False)
        except ResourceExistsError:
            pass
        except HttpResponseError as exc:  # leased by someone: it exists, which is all we need
            if exc.status_code != 412:
                raise
        self._ready = True

    def try_acquire(self, claim: LockRecord, seconds: int, lease_id: str) -> str | None:
        from azure.core.exceptions import HttpResponseError

        with _errors("acquire"):
            self._ensure_blob()
            # The caller's lease id, proposed: when an acquire's answer is lost and the SDK retries
            # it, Azure grants the retry (same proposed id on a blob leased with it) instead of 409.
            try:
                lease = self._blob.acquire_lease(lease_duration=seconds, lease_id=lease_id)
            except HttpResponseError as exc:
                if exc.status_code == 409:
                    return None
                raise
            try:
                metadata = {META_KEY: json.dumps(claim.to_dict(), sort_keys=True)}
                self._blob.set_blob_metadata(metadata, lease=lease)
            except BaseException:  # not held after all: free it now rather than in LEASE_SECONDS
                with contextlib.suppress(Exception):
                    lease.release()
                raise
            return str(lease.id)

    def holder(self) -> LockRecord | None:
        from azure.core.exceptions import ResourceNotFoundError

        with _errors("read"):
            try:
                props = self._blob.get_blob_properties()
            except ResourceNotFoundError:
                return None
        if props.lease.state not in ("leased", "breaking"):
            return None
        raw = (props.metadata or {}).get(META_KEY)
        try:
            return LockRecord.from_dict(json.loads(raw)) if raw else None
        except (ValueError, TypeError):
            return None

    def renew(self, lease_id: str) -> None:
        from azure.core.exceptions import HttpResponseError
        from azure.storage.blob import BlobLeaseClient

        try:
            BlobLeaseClient(self._blob, lease_id=lease_id).renew()
        except HttpResponseError as exc:
            if exc.status_code in (409, 412):
                raise LeaseLost(exc.error_code or "the lease was broken or taken") from None
            raise

    def release(self, lease_id: str) -> None:
        from azure.core.exceptions import HttpResponseError
        from azure.storage.blob import BlobLeaseClient

        with _errors("release"):
            try:
                BlobLeaseClient(self._blob, lease_id=lease_id).release()
            except HttpResponseError as exc:
                if exc.status_code in (409, 412):
                    raise LeaseLost(exc.error_code or "lease lost") from None
                raise

    def break_lease(self) -> None:
        from azure.core.exceptions import HttpResponseError
        from azure.storage.blob import BlobLeaseClient

        with _errors("break"):
            try:
                BlobLeaseClient(self._blob).break_lease(lease_break_period=0)
            except HttpResponseError as exc:
                if exc.status_code != 409:  # nothing to break: free already
                    raise


def raise_if_denied(exc: BaseException, message: str) -> None:
    """A storage request the identity may not make is a sign-in/role problem (exit 4), whatever it was for."""
    from azure.core.exceptions import ClientAuthenticationError, HttpResponseError

    if isinstance(exc, ClientAuthenticationError) or (
        isinstance(exc, HttpResponseError) and exc.status_code in (401, 403)
    ):
        raise AuthError(
            message,
            hint="the identity needs Storage Blob Data Contributor on the environment's storage account",
        ) from None


class _errors:
    """SDK failures as our errors: auth → exit 4, anything else about the lock → exit 11."""

    def __init__(self, what: str) -> None:
        self.what = what

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, exc: Any, tb: Any) -> bool:
        if exc is None or isinstance(exc, (GenAIOpsError, LeaseLost)):
            return False
        from azure.core.exceptions import AzureError

        raise_if_denied(
            exc, f"not allowed to {self.what} the environment lock: {getattr(exc, 'error_code', '') or exc}"
        )
        if isinstance(exc, AzureError):
            raise LockedError(
                f"could not {self.what} the environment lock: {type(exc).__name__}",
                hint="the storage account was unreachable; nothing was changed — try again",
                code="lock_unavailable",
            ) from None
        return False


def lease_backend(
    target: AzureTarget, resource_group: str, environment: str, account: str | None
) -> BlobLeaseLock | None:
    """The environment's lock blob, or None when it has no storage account to lease on."""
    if account is None and target.blob_endpoint:
        account = sandbox_account(target, resource_group)
    return BlobLeaseLock(target, account, environment) if account else None
