"""Client-side copy between two stand-in registries (real ACR-shaped fronts over a real OCI
registry): every blob arrives byte for byte under its digest, the manifest keeps its digest, a re-run
copies nothing, and the same-registry re-tag costs one manifest GET + one PUT (plus one token request
when no token is cached)."""

from __future__ import annotations

import hashlib
import json
import os
import ssl
import urllib.request

from genaiops_cli.core.cloud import target_for
from genaiops_cli.providers.azure import acr, clients
from genaiops_cli.providers.azure.registry_copy import RegistryRef, copy_image
from genaiops_cli.providers.azure.registry_raw import RawRegistry
from tests.e2e.infra import push_empty_image

RG = "rg-copytest"
REPO = "contoso/copytest"


def _registry(target, name: str) -> str:
    clients.registry_management(target).registries.begin_create(
        RG, name, {"location": "eastus2", "sku": {"name": "Standard"}}
    ).result()
    return acr.login_server(target, RG, name)


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _requests(server: str, ca: str) -> list[str]:
    ctx = ssl.create_default_context(cafile=ca)
    with urllib.request.urlopen(f"https://{server}/sandbox/requests", context=ctx) as r:
        return [f"{e['method']} {e['path']}" for e in json.loads(r.read())["requests"]]


def test_client_side_copy_moves_every_blob_intact(sandbox) -> None:
    target = target_for("sandbox", None)
    clients.resource_groups(target).resource_groups.create_or_update(RG, {"location": "eastus2"})
    src_server, dst_server = _registry(target, "crcopysrc"), _registry(target, "crcopydst")
    # three blobs, one large enough to be sent in many pieces
    layers = [os.urandom(3 * 1024 * 1024 + 17), os.urandom(1000)]
    config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers"}}).encode()
    src = RawRegistry(target, src_server)
    src.will_write(REPO)
    for blob in [config, *layers]:
        src.put_blob(REPO, _digest(blob), blob)
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": _digest(config),
                "size": len(config),
            },
            "layers": [
                {"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": _digest(b), "size": len(b)}
                for b in layers
            ],
        }
    ).encode()
    digest = src.put_manifest(REPO, "v1", manifest, "application/vnd.oci.image.manifest.v1+json")

    first = copy_image(
        RegistryRef(target, src_server), RegistryRef(target, dst_server), REPO, digest, "v1", "blobs"
    )
    assert (first.method, first.blobs_copied) == ("blobs", 3)
    assert first.bytes_copied == len(config) + sum(len(b) for b in layers)
    dst = RawRegistry(target, dst_server)  # a fresh client: reads what the registry stored
    assert dst.get_manifest(REPO, "v1") == (manifest, "application/vnd.oci.image.manifest.v1+json", digest)
    for blob in [config, *layers]:
        assert dst.get_blob(REPO, _digest(blob)) == blob  # get_blob re-checks the digest too

    again = copy_image(
        RegistryRef(target, src_server), RegistryRef(target, dst_server), REPO, digest, "v2", "blobs"
    )
    assert (again.method, again.blobs_copied, again.tag) == ("present", 0, "v2")
    assert dst.get_manifest(REPO, "v2")[2] == digest


def test_same_registry_retag_is_one_get_and_one_put(sandbox, monkeypatch) -> None:
    target = target_for("sandbox", None)
    clients.resource_groups(target).resource_groups.create_or_update(RG, {"location": "eastus2"})
    server = _registry(target, "crcopyretag")
    digest = push_empty_image(target, server, REPO, "v1")
    ctx = ssl.create_default_context(cafile=target.ca_bundle)
    urllib.request.urlopen(
        urllib.request.Request(f"https://{server}/sandbox/requests", method="DELETE"), context=ctx
    )
    from genaiops_cli.providers.azure.registry_raw import raw_registry

    raw_registry.cache_clear()  # a fresh process: its push token is in the token cache, still fresh
    result = copy_image(RegistryRef(target, server), RegistryRef(target, server), REPO, digest, "release-1")
    assert result.method == "retag"
    assert _requests(server, target.ca_bundle) == [
        f"GET /v2/{REPO}/manifests/{digest}",
        f"PUT /v2/{REPO}/manifests/release-1",
    ]

    monkeypatch.setenv("GENAIOPS_TOKEN_CACHE", "0")  # no token cache: one token request, no more
    urllib.request.urlopen(
        urllib.request.Request(f"https://{server}/sandbox/requests", method="DELETE"), context=ctx
    )
    raw_registry.cache_clear()
    result = copy_image(RegistryRef(target, server), RegistryRef(target, server), REPO, digest, "release-2")
    assert result.method == "retag"
    seen = _requests(server, target.ca_bundle)
    assert [r for r in seen if "/oauth2/" not in r] == [
        f"GET /v2/{REPO}/manifests/{digest}",
        f"PUT /v2/{REPO}/manifests/release-2",
    ]
    assert sum(1 for r in seen if r == "POST /oauth2/token") == 1, seen
