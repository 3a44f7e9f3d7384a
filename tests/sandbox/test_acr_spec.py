# ruff: noqa: F811 - session fixtures are imported from conftest_registry and used by name
"""Every /acr/v1 and /oauth2 answer of the front, checked against the ACR data-plane spec
(containerregistry/data-plane/Registry/stable/2021-07-01) with the shared SpecValidator."""

from __future__ import annotations

import io
import json
import ssl
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

import pytest
from conftest_registry import FleetEnv, engine_host, fleet_env  # noqa: F401

from genaiops_sandbox.acr_front import ACR_USER
from tests.conftest import require_specs

pytestmark = pytest.mark.e2e

API = "2021-07-01"
DOCKER_V2 = "application/vnd.docker.distribution.manifest.v2+json"


def _call(
    env: FleetEnv,
    method: str,
    path: str,
    token: str | None = None,
    body: Any = None,
    form: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], Any]:
    ctx = ssl.create_default_context(cafile=str(env.ca))
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    data = None
    if form is not None:
        data = urllib.parse.urlencode(form).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    elif body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    req = urllib.request.Request(
        f"https://{env.src.login_server}{path}", data=data, method=method, headers=headers
    )
    try:
        with urllib.request.urlopen(req, context=ctx) as resp:
            status, hdrs, raw = resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        status, hdrs, raw = err.code, dict(err.headers), err.read()
    return status, hdrs, json.loads(raw) if raw else None


def test_acr_v1_and_oauth_answers_match_the_data_plane_spec(fleet_env: FleetEnv) -> None:
    from genaiops_sandbox.specs import SpecValidator

    require_specs()
    validator = SpecValidator()
    repo = "specced"
    client = fleet_env.acr_client(fleet_env.src)
    layer_digest, _ = client.upload_blob(repo, io.BytesIO(b"layer-bytes" * 100))
    config = json.dumps({"architecture": "amd64", "os": "linux"}).encode()
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
                    "size": 1100,
                    "digest": layer_digest,
                }
            ],
        }
    ).encode()
    digest = client.set_manifest(repo, io.BytesIO(raw), tag="v1", media_type=DOCKER_V2)

    problems: list[str] = []

    def check(
        method: str,
        path: str,
        token: str | None = None,
        body: Any = None,
        form: dict[str, str] | None = None,
        expect: int = 200,
    ) -> Any:
        status, headers, answer = _call(fleet_env, method, path, token, body, form)
        assert status == expect, (method, path, status, answer)
        if status < 400:
            # Form posts (oauth2) are formData parameters, which the body validator does not cover.
            problems.extend(validator.check(method, path.split("?")[0], API, body, status, answer, headers))
        else:
            # The 2021-07-01 spec declares Azure.Core's {"error": {...}} as the default response, but
            # ACR (and the SDK, which deserialises AcrErrors) use the registry's {"errors": [...]}.
            assert answer["errors"][0]["code"] and answer["errors"][0]["message"]
        return answer

    entra = fleet_env.credential().get_token("https://containerregistry.azure.net/.default").token
    ls = fleet_env.src.login_server
    refresh = check(
        "POST", "/oauth2/exchange", form={"grant_type": "access_token", "service": ls, "access_token": entra}
    )["refresh_token"]
    scope = f"repository:{repo}:metadata_read,metadata_write,delete registry:catalog:*"
    token = check(
        "POST",
        "/oauth2/token",
        form={"grant_type": "refresh_token", "service": ls, "scope": scope, "refresh_token": refresh},
    )["access_token"]

    check("GET", "/acr/v1/_catalog", token)
    check("GET", f"/acr/v1/{repo}", token)
    check("PATCH", f"/acr/v1/{repo}", token, body={"listEnabled": True})
    check("GET", f"/acr/v1/{repo}/_tags", token)
    check("GET", f"/acr/v1/{repo}/_tags/v1", token)
    check("PATCH", f"/acr/v1/{repo}/_tags/v1", token, body={"writeEnabled": True})
    check("GET", f"/acr/v1/{repo}/_manifests", token)
    check("GET", f"/acr/v1/{repo}/_manifests/{digest}", token)
    check("PATCH", f"/acr/v1/{repo}/_manifests/{digest}", token, body={"deleteEnabled": True})
    check("GET", f"/acr/v1/{repo}/_tags/nope", token, expect=404)
    check("DELETE", f"/acr/v1/{repo}/_tags/v1", token, expect=202)
    check("DELETE", f"/acr/v1/{repo}", token, expect=202)
    check("GET", f"/acr/v1/{repo}", token, expect=404)

    basic_status, _, _ = _call(fleet_env, "GET", f"/oauth2/token?service={ls}&scope=repository:{repo}:pull")
    assert basic_status == 401  # no credentials at all
    assert ACR_USER  # the Basic convention itself is covered in test_acr_front
    assert problems == [], "\n".join(problems)
