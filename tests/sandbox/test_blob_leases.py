"""The stand-in's Blob lease subset, over real HTTPS with Entra bearer tokens: Azure's lease rules
(Lease Blob, Put Blob, Set Blob Metadata REST reference) — 409 for a second acquire, 412 for a write
without the lease id, expiry of an unrenewed fixed lease, renew by the holder, break, durations
15–60 s only — and 401 without a valid token for the storage audience."""

from __future__ import annotations

import ssl
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest

from genaiops_sandbox.blob_leases import STORAGE_AUDIENCE, BlobLeaseService
from genaiops_sandbox.ca import ensure_ca
from genaiops_sandbox.tokens import TokenIssuer


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[BlobLeaseService, httpx.Client, str]]:
    state = tmp_path_factory.mktemp("blobs")
    ca = ensure_ca(state / "tls")
    issuer = TokenIssuer(state)
    svc = BlobLeaseService(state / "tls", issuer)
    svc.ca = ca.cert  # type: ignore[attr-defined]  # for clients the test makes
    token, _ = issuer.issue({"aud": STORAGE_AUDIENCE})
    client = httpx.Client(
        base_url=svc.url,
        verify=ssl.create_default_context(cafile=str(ca.cert)),
        headers={"Authorization": f"Bearer {token}", "x-ms-version": "2025-01-05"},
    )
    yield svc, client, token
    client.close()
    svc.close()


def fresh_blob(client: httpx.Client) -> str:
    container = f"c{uuid.uuid4().hex[:10]}"
    assert client.put(f"/acct1/{container}", params={"restype": "container"}).status_code == 201
    url = f"/acct1/{container}/env.lock"
    assert client.put(url, content=b"", headers={"x-ms-blob-type": "BlockBlob"}).status_code == 201
    return url


def lease(client: httpx.Client, url: str, action: str, **headers: str) -> httpx.Response:
    return client.put(url, params={"comp": "lease"}, headers={"x-ms-lease-action": action, **headers})


def test_second_acquire_conflicts_and_writes_need_the_lease(service) -> None:
    _, client, _ = service
    url = fresh_blob(client)
    first = lease(client, url, "acquire", **{"x-ms-lease-duration": "15"})
    assert first.status_code == 201
    lease_id = first.headers["x-ms-lease-id"]
    second = lease(client, url, "acquire", **{"x-ms-lease-duration": "15"})
    assert second.status_code == 409 and second.headers["x-ms-error-code"] == "LeaseAlreadyPresent"
    meta = {"x-ms-meta-owner": "a"}
    assert client.put(url, params={"comp": "metadata"}, headers=meta).status_code == 412
    assert (
        client.put(url, params={"comp": "metadata"}, headers={**meta, "x-ms-lease-id": lease_id}).status_code
        == 200
    )
    props = client.head(url)
    assert props.headers["x-ms-lease-state"] == "leased" and props.headers["x-ms-meta-owner"] == "a"
    assert props.headers["x-ms-lease-duration"] == "fixed"
    assert lease(client, url, "renew", **{"x-ms-lease-id": str(uuid.uuid4())}).status_code == 409
    assert lease(client, url, "release", **{"x-ms-lease-id": lease_id}).status_code == 200
    assert client.head(url).headers["x-ms-lease-state"] == "available"


def test_durations_outside_15_to_60_seconds_are_rejected(service) -> None:
    _, client, _ = service
    url = fresh_blob(client)
    for bad in ("14", "61", "0", "abc"):
        assert lease(client, url, "acquire", **{"x-ms-lease-duration": bad}).status_code == 400
    assert lease(client, url, "acquire", **{"x-ms-lease-duration": "-1"}).status_code == 201


def test_unrenewed_lease_expires_and_break_frees_at_once(service, monkeypatch: pytest.MonkeyPatch) -> None:
    _, client, _ = service
    url = fresh_blob(client)
    held = lease(client, url, "acquire", **{"x-ms-lease-duration": "15"}).headers["x-ms-lease-id"]
    real = time.monotonic
    monkeypatch.setattr(
        "genaiops_sandbox.blob_leases.time.monotonic", lambda: real() + 16
    )  # the clock moves on
    assert client.head(url).headers["x-ms-lease-state"] == "expired"
    assert lease(client, url, "renew", **{"x-ms-lease-id": held}).status_code == 200, (
        "holder may renew until taken"
    )
    monkeypatch.setattr("genaiops_sandbox.blob_leases.time.monotonic", lambda: real() + 40)
    taken = lease(client, url, "acquire", **{"x-ms-lease-duration": "15"})
    assert taken.status_code == 201
    assert lease(client, url, "renew", **{"x-ms-lease-id": held}).status_code == 409, (
        "taken: the old id is dead"
    )
    broke = lease(client, url, "break", **{"x-ms-lease-break-period": "0"})
    assert broke.status_code == 202 and broke.headers["x-ms-lease-time"] == "0"
    assert client.head(url).headers["x-ms-lease-state"] == "broken"
    assert lease(client, url, "acquire", **{"x-ms-lease-duration": "15"}).status_code == 201


def test_bearer_token_for_storage_is_required(service) -> None:
    svc, client, _ = service
    url = fresh_blob(client)
    anonymous = httpx.Client(base_url=svc.url, verify=ssl.create_default_context(cafile=str(svc.ca)))
    assert anonymous.head(url, headers={"x-ms-version": "2025-01-05"}).status_code == 401
    arm_token, _ = svc.issuer.issue({"aud": "https://management.azure.com"})
    wrong = anonymous.head(
        url, headers={"x-ms-version": "2025-01-05", "Authorization": f"Bearer {arm_token}"}
    )
    assert wrong.status_code == 401, "a token for ARM is not a token for storage"
