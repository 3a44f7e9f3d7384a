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


# ---- data operations (blob_data.py): what azure-storage-blob needs for datasets ----------------


def test_get_blob_returns_the_body_and_honours_ranges(service) -> None:
    _, client, _ = service
    url = fresh_blob(client)
    assert client.get(url).content == b""
    assert client.get(url, headers={"x-ms-range": "bytes=0-99"}).status_code == 416  # empty blob
    assert client.put(url, content=b"0123456789", headers={"x-ms-blob-type": "BlockBlob"}).status_code == 201
    whole = client.get(url)
    assert whole.status_code == 200 and whole.content == b"0123456789"
    part = client.get(url, headers={"x-ms-range": "bytes=2-4"})
    assert part.status_code == 206 and part.content == b"234"
    assert part.headers["Content-Range"] == "bytes 2-4/10"
    assert client.head(url).headers["Content-Length"] == "10"


def test_block_list_commits_named_blocks_in_order_and_refuses_unknown_ids(service) -> None:
    import base64

    _, client, _ = service
    url = fresh_blob(client).replace("env.lock", "big.bin")
    ids = [base64.b64encode(f"block-{i:04d}".encode()).decode() for i in range(3)]
    for block_id, data in zip(ids, (b"aa", b"bb", b"cc"), strict=True):
        put = client.put(url, params={"comp": "block", "blockid": block_id}, content=data)
        assert put.status_code == 201
    assert client.get(url).status_code == 404, "uncommitted blocks are not a blob"
    body = "<BlockList>" + "".join(f"<Latest>{i}</Latest>" for i in (ids[2], ids[0])) + "</BlockList>"
    meta = {"x-ms-meta-kind": "dataset"}
    assert client.put(url, params={"comp": "blocklist"}, content=body, headers=meta).status_code == 201
    assert client.get(url).content == b"ccaa"
    assert client.head(url).headers["x-ms-meta-kind"] == "dataset"
    unknown = "<BlockList><Uncommitted>" + ids[1] + "</Uncommitted></BlockList>"  # discarded by the commit
    refused = client.put(url, params={"comp": "blocklist"}, content=unknown)
    assert refused.status_code == 400 and refused.headers["x-ms-error-code"] == "InvalidBlockList"


def test_list_blobs_by_prefix_with_metadata_and_paging(service) -> None:
    import xml.etree.ElementTree as ET

    _, client, _ = service
    base = fresh_blob(client).rsplit("/", 1)[0]
    for name in ("ds/a/1", "ds/b/2", "other/3"):
        headers = {"x-ms-blob-type": "BlockBlob", "x-ms-meta-version": name[-1]}
        assert client.put(f"{base}/{name}", content=b"x", headers=headers).status_code == 201
    params = {
        "restype": "container",
        "comp": "list",
        "prefix": "ds/",
        "include": "metadata",
        "maxresults": "1",
    }
    page = ET.fromstring(client.get(base, params=params).content)
    assert [b.findtext("Name") for b in page.iter("Blob")] == ["ds/a/1"]
    assert page.find("Blobs/Blob/Metadata/version").text == "1"
    marker = page.findtext("NextMarker")
    rest = ET.fromstring(client.get(base, params={**params, "marker": marker}).content)
    assert [b.findtext("Name") for b in rest.iter("Blob")] == ["ds/b/2"] and not rest.findtext("NextMarker")
    missing = client.get(base + "x", params={"restype": "container", "comp": "list"})
    assert missing.status_code == 404 and missing.headers["x-ms-error-code"] == "ContainerNotFound"
