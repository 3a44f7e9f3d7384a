"""The fault table on the stand-in's data planes: the Blob service (lease operations told apart by
`operation`) and an ACR-shaped registry front (token exchange, manifest PUT, blob HEAD), over real
HTTPS. Each kind does what its name says: 429 (Azure Storage: 503 ServerBusy) with Retry-After, 500,
`drop` closes before the request is handled (no effect), `drop_after` closes after it (the effect is
there, the answer lost); a rule is consumed by the requests it matches and by no other."""

from __future__ import annotations

import json
import ssl
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from genaiops_sandbox.blob_leases import STORAGE_AUDIENCE, BlobLeaseService
from genaiops_sandbox.ca import ensure_ca
from genaiops_sandbox.faults import FaultRule, FaultTable
from genaiops_sandbox.tokens import TokenIssuer

LOST = (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError, httpx.ConnectError)


def rule(**fields: object) -> FaultRule:
    base: dict[str, object] = {"method": "*", "path_regex": ".", "kind": "500"}
    return FaultRule(**{**base, **fields})  # type: ignore[arg-type]


def test_a_rule_names_a_known_service_and_operations_only_where_they_exist() -> None:
    table = FaultTable()
    with pytest.raises(ValueError, match="service"):
        table.add(rule(service="queue"))
    with pytest.raises(ValueError, match="operation"):
        table.add(rule(operation="lease-acquire"))  # ARM is matched by path
    table.add(rule(service="blob", operation="lease-(renew|release)", count=2))
    assert table.take("PUT", "/a/c/b", "arm", "") is None  # another service
    assert table.take("PUT", "/a/c/b", "blob", "lease-acquire") is None  # another request kind
    assert table.take("PUT", "/a/c/b", "blob", "lease-renew") is not None
    assert table.take("PUT", "/a/c/b", "blob", "lease-release") is not None
    assert table.rules() == []  # consumed


# ------------------------------------------------------------------------------ blob service


@pytest.fixture(scope="module")
def blobs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FaultTable, httpx.Client]]:
    state = tmp_path_factory.mktemp("blobfaults")
    ca = ensure_ca(state / "tls")
    issuer = TokenIssuer(state)
    table = FaultTable()
    svc = BlobLeaseService(state / "tls", issuer, faults=table)
    token, _ = issuer.issue({"aud": STORAGE_AUDIENCE})
    client = httpx.Client(
        base_url=svc.url,
        verify=ssl.create_default_context(cafile=str(ca.cert)),
        headers={"Authorization": f"Bearer {token}", "x-ms-version": "2025-01-05"},
    )
    yield table, client
    client.close()
    svc.close()


def lock_blob(client: httpx.Client) -> str:
    container = f"c{uuid.uuid4().hex[:10]}"
    assert client.put(f"/acct1/{container}", params={"restype": "container"}).status_code == 201
    url = f"/acct1/{container}/staging.lock"
    assert client.put(url, content=b"", headers={"x-ms-blob-type": "BlockBlob"}).status_code == 201
    return url


def lease(client: httpx.Client, url: str, action: str, **headers: str) -> httpx.Response:
    return client.put(url, params={"comp": "lease"}, headers={"x-ms-lease-action": action, **headers})


def test_a_429_on_the_lease_renew_is_storage_s_server_busy_once(blobs) -> None:
    table, client = blobs
    url = lock_blob(client)
    lease_id = lease(client, url, "acquire", **{"x-ms-lease-duration": "15"}).headers["x-ms-lease-id"]
    table.add(rule(service="blob", path_regex=r"/staging\.lock$", operation="lease-renew", kind="429"))
    assert client.head(url).status_code == 200  # another request kind: untouched
    busy = lease(client, url, "renew", **{"x-ms-lease-id": lease_id})
    assert (busy.status_code, busy.headers["x-ms-error-code"], busy.headers["Retry-After"]) == (
        503,
        "ServerBusy",
        "1",
    )
    assert lease(client, url, "renew", **{"x-ms-lease-id": lease_id}).status_code == 200


def test_a_drop_before_the_acquire_leaves_the_blob_free(blobs) -> None:
    table, client = blobs
    url = lock_blob(client)
    table.add(rule(service="blob", method="PUT", operation="lease-acquire", kind="drop"))
    with pytest.raises(LOST):
        lease(client, url, "acquire", **{"x-ms-lease-duration": "15"})
    assert lease(client, url, "acquire", **{"x-ms-lease-duration": "15"}).status_code == 201


def test_a_drop_after_the_acquire_leaves_the_blob_leased_with_the_answer_lost(blobs) -> None:
    table, client = blobs
    url = lock_blob(client)
    table.add(rule(service="blob", method="PUT", operation="lease-acquire", kind="drop_after"))
    with pytest.raises(LOST):
        lease(client, url, "acquire", **{"x-ms-lease-duration": "15"})
    again = lease(client, url, "acquire", **{"x-ms-lease-duration": "15"})
    assert (again.status_code, again.headers["x-ms-error-code"]) == (409, "LeaseAlreadyPresent")


def test_a_500_on_a_blob_put_changes_nothing(blobs) -> None:
    table, client = blobs
    url = lock_blob(client)
    table.add(rule(service="blob", method="PUT", operation="blob-put", kind="500"))
    failed = client.put(url, content=b"new", headers={"x-ms-blob-type": "BlockBlob"})
    assert (failed.status_code, failed.headers["x-ms-error-code"]) == (500, "InternalError")
    assert client.get(url).content == b""


# ------------------------------------------------------------------------------ registry front


@pytest.fixture(scope="module")
def registry(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[FaultTable, object, Path, TokenIssuer]]:
    from genaiops_sandbox.registry import RegistryFleet

    state = tmp_path_factory.mktemp("regfaults")
    tokens = TokenIssuer(state)
    table = FaultTable()
    try:
        fleet = RegistryFleet(state, tokens, state / "tls", faults=table)
        endpoint = fleet.ensure("crfaults")
    except Exception as exc:  # no distribution binary on this machine
        pytest.skip(f"no stand-in registry: {exc}")
    yield table, endpoint, state / "tls" / "ca.pem", tokens
    fleet.close()


def signed_in(registry, repo: str) -> tuple[httpx.Client, str]:
    """A client with a pull,push token for `repo`, through ACR's exchange + token flow."""
    _, endpoint, ca, tokens = registry
    base = f"https://{endpoint.login_server}"
    client = httpx.Client(base_url=base, verify=ssl.create_default_context(cafile=str(ca)))
    entra, _ = tokens.issue({"aud": "https://containerregistry.azure.net", "oid": "tester"})
    form = {"grant_type": "access_token", "service": endpoint.login_server, "access_token": entra}
    refresh = client.post("/oauth2/exchange", data=form).json()["refresh_token"]
    scope = f"repository:{repo}:pull,push"
    form = {
        "grant_type": "refresh_token",
        "service": endpoint.login_server,
        "scope": scope,
        "refresh_token": refresh,
    }
    client.headers["Authorization"] = (
        "Bearer " + client.post("/oauth2/token", data=form).json()["access_token"]
    )
    return client, endpoint.login_server


def push_config(client: httpx.Client, repo: str) -> tuple[bytes, str]:
    """An OCI manifest (empty config, no layers) ready to PUT; the config blob uploaded."""
    import hashlib

    config = b"{}"
    digest = "sha256:" + hashlib.sha256(config).hexdigest()
    location = client.post(f"/v2/{repo}/blobs/uploads/").headers["Location"]
    joiner = "&" if "?" in location else "?"
    assert client.put(f"{location}{joiner}digest={digest}", content=config).status_code == 201
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": digest, "size": 2},
        "layers": [],
        "annotations": {"nonce": uuid.uuid4().hex},
    }
    return json.dumps(manifest).encode(), digest


def test_a_500_on_the_token_exchange_is_acr_shaped(registry) -> None:
    table, endpoint, ca, tokens = registry
    table.add(
        rule(service="registry", method="POST", path_regex="^/crfaults/oauth2/", operation="token-exchange")
    )
    client = httpx.Client(verify=ssl.create_default_context(cafile=str(ca)))
    entra, _ = tokens.issue({"aud": "https://containerregistry.azure.net", "oid": "tester"})
    form = {"grant_type": "access_token", "service": endpoint.login_server, "access_token": entra}
    url = f"https://{endpoint.login_server}/oauth2/exchange"
    failed = client.post(url, data=form)
    assert failed.status_code == 500 and failed.json()["errors"][0]["code"] == "UNKNOWN"
    assert client.post(url, data=form).status_code == 200  # count 1: consumed


def test_manifest_put_faults_429_then_drop_after(registry) -> None:
    table, *_ = registry
    client, _ = signed_in(registry, "app/one")
    raw, _ = push_config(client, "app/one")
    media = {"Content-Type": "application/vnd.oci.image.manifest.v1+json"}
    table.add(rule(service="registry", method="PUT", operation="manifest-put", kind="429", retry_after=2))
    throttled = client.put("/v2/app/one/manifests/v1", content=raw, headers=media)
    assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "2"
    assert throttled.json()["errors"][0]["code"] == "TOOMANYREQUESTS"
    assert (
        client.get("/v2/app/one/manifests/v1", headers={"Accept": media["Content-Type"]}).status_code == 404
    )
    table.add(rule(service="registry", method="PUT", path_regex="/manifests/v1$", kind="drop_after"))
    with pytest.raises(LOST):
        client.put("/v2/app/one/manifests/v1", content=raw, headers=media)
    stored = client.get("/v2/app/one/manifests/v1", headers={"Accept": media["Content-Type"]})
    assert stored.status_code == 200 and stored.content == raw  # handled: only the answer was lost


def test_a_drop_on_blob_head_then_the_next_one_answers(registry) -> None:
    table, *_ = registry
    client, _ = signed_in(registry, "app/two")
    _, digest = push_config(client, "app/two")
    table.add(rule(service="registry", method="HEAD", operation="blob-head", kind="drop"))
    with pytest.raises(LOST):
        client.head(f"/v2/app/two/blobs/{digest}")
    assert client.head(f"/v2/app/two/blobs/{digest}").status_code == 200
