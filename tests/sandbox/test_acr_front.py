# ruff: noqa: F811 - session fixtures are imported from conftest_registry and used by name
"""The ACR-shaped front against the real clients: azure-containerregistry over HTTPS with the
stand-in CA, the Docker engine (login with the ACR token convention, push, pull), plain HTTP for
the exact challenge header and error bodies."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import secrets
import ssl
import urllib.error
import urllib.parse
import urllib.request

import pytest
from conftest_registry import (  # noqa: F401 - fixtures are used by name
    ACR_AUDIENCE,
    FleetEnv,
    engine_host,
    fleet_env,
    import_tiny_image,
    push,
    push_error,
    pushed_digest,
)

from genaiops_sandbox.acr_front import ACR_USER

pytestmark = pytest.mark.e2e

DOCKER_V2 = "application/vnd.docker.distribution.manifest.v2+json"


def _http(
    env: FleetEnv, method: str, url: str, data: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    ctx = ssl.create_default_context(cafile=str(env.ca))
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, context=ctx) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def _upload_image(env: FleetEnv, repo: str, tag: str) -> tuple[str, bytes]:
    """Build an image with the SDK (config + one layer + manifest as ORIGINAL bytes)."""
    client = env.acr_client(env.src)
    layer = secrets.token_bytes(4096)
    config = json.dumps(
        {"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}}
    ).encode()
    layer_digest, _ = client.upload_blob(repo, io.BytesIO(layer))
    config_digest, _ = client.upload_blob(repo, io.BytesIO(config))
    raw = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": DOCKER_V2,
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "size": len(config),
                "digest": config_digest,
            },
            "layers": [
                {
                    "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                    "size": len(layer),
                    "digest": layer_digest,
                }
            ],
        },
        indent=3,  # unusual formatting: a re-serialising server would change the digest
    ).encode()
    digest = client.set_manifest(repo, io.BytesIO(raw), tag=tag, media_type=DOCKER_V2)
    return digest, raw


def test_registry_starts_fast(fleet_env: FleetEnv) -> None:
    assert fleet_env.start_seconds < 3.0
    assert fleet_env.fleet.ensure("src") == fleet_env.src  # idempotent


def test_anonymous_requests_get_acr_challenge(fleet_env: FleetEnv) -> None:
    ls = fleet_env.src.login_server
    status, headers, _ = _http(fleet_env, "GET", f"https://{ls}/v2/")
    assert status == 401
    assert headers["WWW-Authenticate"] == f'Bearer realm="https://{ls}/oauth2/token",service="{ls}"'

    status, headers, body = _http(fleet_env, "GET", f"https://{ls}/v2/team/app/manifests/latest")
    assert status == 401
    assert headers["WWW-Authenticate"] == (
        f'Bearer realm="https://{ls}/oauth2/token",service="{ls}",scope="repository:team/app:pull"'
    )
    assert json.loads(body)["errors"][0]["code"] == "UNAUTHORIZED"
    assert headers["Content-Length"] == str(len(body))

    status, headers, _ = _http(fleet_env, "PUT", f"https://{ls}/v2/team/app/manifests/v1", data=b"{}")
    assert 'scope="repository:team/app:pull,push"' in headers["WWW-Authenticate"]


def test_token_endpoints_reject_bad_tokens_acr_style(fleet_env: FleetEnv) -> None:
    ls = fleet_env.src.login_server
    form = urllib.parse.urlencode(
        {"grant_type": "access_token", "service": ls, "access_token": "nope"}
    ).encode()
    status, _, body = _http(
        fleet_env,
        "POST",
        f"https://{ls}/oauth2/exchange",
        data=form,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert status == 401 and json.loads(body)["errors"][0]["code"] == "UNAUTHORIZED"

    # A token for another audience (e.g. Microsoft Graph) is not exchangeable.
    graph, _ = fleet_env.tokens.issue({"aud": "https://graph.microsoft.com", "sub": "x"})
    form = urllib.parse.urlencode(
        {"grant_type": "access_token", "service": ls, "access_token": graph}
    ).encode()
    status, _, _ = _http(fleet_env, "POST", f"https://{ls}/oauth2/exchange", data=form)
    assert status == 401

    # A refresh token of another registry is no good here.
    other = fleet_env.fleet.mint_refresh_token("dst")
    basic = base64.b64encode(f"{ACR_USER}:{other}".encode()).decode()
    status, _, _ = _http(
        fleet_env,
        "GET",
        f"https://{ls}/oauth2/token?service={ls}&scope=repository:a:pull",
        headers={"Authorization": f"Basic {basic}"},
    )
    assert status == 401

    # …while this registry's refresh token works through the docker/skopeo GET convention.
    mine = fleet_env.fleet.mint_refresh_token("src")
    basic = base64.b64encode(f"{ACR_USER}:{mine}".encode()).decode()
    status, _, body = _http(
        fleet_env,
        "GET",
        f"https://{ls}/oauth2/token?service={ls}&scope=repository:a:pull",
        headers={"Authorization": f"Basic {basic}"},
    )
    assert status == 200
    access = json.loads(body)["access_token"]
    # The access token is scoped: pull on `a` works, push does not.
    status, _, _ = _http(
        fleet_env, "GET", f"https://{ls}/v2/a/tags/list", headers={"Authorization": f"Bearer {access}"}
    )
    assert status == 404  # authorised; the repository just doesn't exist
    status, _, _ = _http(
        fleet_env,
        "POST",
        f"https://{ls}/v2/a/blobs/uploads/",
        data=b"",
        headers={"Authorization": f"Bearer {access}"},
    )
    assert status == 401


def test_sdk_roundtrip_keeps_digest_and_reports_properties(fleet_env: FleetEnv) -> None:
    repo = "sdk/roundtrip"
    digest, raw = _upload_image(fleet_env, repo, "v1")
    assert digest == "sha256:" + hashlib.sha256(raw).hexdigest()

    client = fleet_env.acr_client(fleet_env.src)
    got = client.get_manifest(repo, "v1")
    assert got.digest == digest and got.media_type == DOCKER_V2

    props = client.get_manifest_properties(repo, "v1")
    assert props.digest == digest
    assert props.tags == ["v1"]
    assert props.architecture == "amd64" and props.operating_system == "linux"
    assert props.can_write and props.can_delete
    assert props.size_in_bytes and props.size_in_bytes > 4096

    assert repo in list(client.list_repository_names())
    tags = [t.name for t in client.list_tag_properties(repo)]
    assert tags == ["v1"]
    tag = client.get_tag_properties(repo, "v1")
    assert tag.digest == digest and tag.created_on is not None
    repo_props = client.get_repository_properties(repo)
    assert repo_props.manifest_count == 1 and repo_props.tag_count == 1
    manifests = [m.digest for m in client.list_manifest_properties(repo)]
    assert manifests == [digest]


def test_paged_listing_follows_link_header(fleet_env: FleetEnv) -> None:
    repo = "sdk/paged"
    client = fleet_env.acr_client(fleet_env.src)
    _, raw = _upload_image(fleet_env, repo, "t0")
    for i in range(1, 5):
        client.set_manifest(repo, io.BytesIO(raw), tag=f"t{i}", media_type=DOCKER_V2)
    pages = client.list_tag_properties(repo, results_per_page=2).by_page()
    seen = [[t.name for t in page] for page in pages]
    assert seen == [["t0", "t1"], ["t2", "t3"], ["t4"]]


def test_locks_are_enforced_on_v2_write_paths(fleet_env: FleetEnv) -> None:
    from azure.core.exceptions import HttpResponseError

    repo = "sdk/locked"
    client = fleet_env.acr_client(fleet_env.src)
    digest, raw = _upload_image(fleet_env, repo, "stable")

    updated = client.update_tag_properties(repo, "stable", can_write=False, can_delete=False)
    assert updated.can_write is False and updated.can_delete is False
    assert client.get_tag_properties(repo, "stable").can_write is False  # persisted

    with pytest.raises(HttpResponseError) as err:
        client.delete_tag(repo, "stable")
    assert err.value.status_code == 405
    with pytest.raises(HttpResponseError):
        client.delete_manifest(repo, digest)  # a delete-locked tag points at it

    # a different manifest over the locked tag is refused with ACR's error body
    _, other_raw = _upload_image(fleet_env, repo, "other")
    with pytest.raises(HttpResponseError) as err:
        client.set_manifest(repo, io.BytesIO(other_raw), tag="stable", media_type=DOCKER_V2)
    assert err.value.status_code == 405 and "disallowed" in str(err.value)

    client.update_tag_properties(repo, "stable", can_write=True, can_delete=True)
    client.delete_tag(repo, "stable")
    assert "stable" not in [t.name for t in client.list_tag_properties(repo)]


def test_docker_login_push_pull_and_write_lock(fleet_env: FleetEnv) -> None:
    docker_client = fleet_env.docker()
    ls = fleet_env.src.login_server
    repository = f"{ls}/docker/tiny"
    import_tiny_image(docker_client, repository, "1")
    fleet_env.docker_login(docker_client, fleet_env.src)

    events = push(docker_client, repository, "1")
    assert push_error(events) is None, events
    digest = pushed_digest(events)
    assert digest

    acr = fleet_env.acr_client(fleet_env.src)
    assert acr.get_manifest_properties("docker/tiny", "1").digest == digest

    docker_client.images.remove(f"{repository}:1", force=True)
    pulled = docker_client.images.pull(repository, tag="1")
    assert f"{repository}@{digest}" in pulled.attrs["RepoDigests"]

    # Lock the tag: pushing a different image to it must fail.
    acr.update_manifest_properties("docker/tiny", digest, can_write=False)
    import_tiny_image(docker_client, repository, "1")
    error = push_error(push(docker_client, repository, "1"))
    assert error is not None and "disallowed" in error
    acr.update_manifest_properties("docker/tiny", digest, can_write=True)
    assert push_error(push(docker_client, repository, "1")) is None


def test_request_log_counts_requests(fleet_env: FleetEnv) -> None:
    ls = fleet_env.dst.login_server
    _http(fleet_env, "DELETE", f"https://{ls}/sandbox/requests")
    _http(fleet_env, "GET", f"https://{ls}/v2/")
    status, _, body = _http(fleet_env, "GET", f"https://{ls}/sandbox/requests")
    assert status == 200
    records = json.loads(body)["requests"]
    assert [(r["method"], r["path"], r["status"]) for r in records] == [("GET", "/v2/", 401)]
