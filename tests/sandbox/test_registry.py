# ruff: noqa: F811 - session fixtures are imported from conftest_registry and used by name
"""RegistryFleet: server-side import between stand-in registries (digest preserved, missing blobs
only, Force/NoForce, indexes), registry lifecycle, and skopeo — the benchmark peer — between fronts."""

from __future__ import annotations

import io
import json
import secrets
import subprocess
from pathlib import Path

import pytest
from conftest_registry import (  # noqa: F401 - fixtures are used by name
    FleetEnv,
    engine_host,
    fleet_env,
    import_tiny_image,
    push,
    push_error,
    pushed_digest,
)

from genaiops_sandbox.acr_front import ACR_USER
from genaiops_sandbox.registry import RegistryFleet, RegistryImportError
from genaiops_sandbox.tokens import TokenIssuer

pytestmark = pytest.mark.e2e

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"


def _oci_image(env: FleetEnv, repo: str, tag: str | None, arch: str = "amd64") -> tuple[str, bytes]:
    client = env.acr_client(env.src)
    config = json.dumps({"architecture": arch, "os": "linux", "nonce": secrets.token_hex(8)}).encode()
    layer = secrets.token_bytes(8192)
    config_digest, _ = client.upload_blob(repo, io.BytesIO(config))
    layer_digest, _ = client.upload_blob(repo, io.BytesIO(layer))
    raw = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": config_digest,
                "size": len(config),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": layer_digest,
                    "size": len(layer),
                }
            ],
        },
        separators=(", ", ": "),
    ).encode()
    digest = client.set_manifest(repo, io.BytesIO(raw), tag=tag, media_type=OCI_MANIFEST)
    return digest, raw


def _import_uploads(env: FleetEnv, name: str) -> list[tuple[str, str]]:
    return [
        (r.method, r.path)
        for r in env.fleet.request_log(name).items()
        if r.via == "import" and (r.method in ("POST", "PUT") and "/blobs/" in r.path)
    ]


def test_import_preserves_digest_and_copies_missing_blobs_only(fleet_env: FleetEnv) -> None:
    digest, _ = _oci_image(fleet_env, "imp/app", "1.0")
    fleet_env.fleet.request_log("dst").clear()

    got = fleet_env.fleet.import_image("dst", fleet_env.src.login_server, "imp/app:1.0", ["imp/app:1.0"])
    assert got == digest
    assert len(_import_uploads(fleet_env, "dst")) == 4  # config + layer: POST + PUT each

    dst = fleet_env.acr_client(fleet_env.dst)
    assert dst.get_manifest("imp/app", "1.0").digest == digest

    fleet_env.fleet.request_log("dst").clear()
    again = fleet_env.fleet.import_image("dst", fleet_env.src.login_server, "imp/app:1.0", ["imp/app:prod"])
    assert again == digest
    assert _import_uploads(fleet_env, "dst") == []  # every blob already there: none copied again
    assert dst.get_tag_properties("imp/app", "prod").digest == digest


def test_import_noforce_refuses_to_move_an_existing_tag(fleet_env: FleetEnv) -> None:
    first, _ = _oci_image(fleet_env, "imp/force", "v1")
    fleet_env.fleet.import_image("dst", fleet_env.src.login_server, "imp/force:v1", ["imp/force:live"])
    second, _ = _oci_image(fleet_env, "imp/force", "v2")

    with pytest.raises(RegistryImportError) as err:
        fleet_env.fleet.import_image("dst", fleet_env.src.login_server, "imp/force:v2", ["imp/force:live"])
    assert err.value.code == "TagAlreadyExists"
    dst = fleet_env.acr_client(fleet_env.dst)
    assert dst.get_tag_properties("imp/force", "live").digest == first

    # the same digest again is no conflict; Force moves the tag
    fleet_env.fleet.import_image("dst", fleet_env.src.login_server, "imp/force:v1", ["imp/force:live"])
    fleet_env.fleet.import_image(
        "dst", fleet_env.src.login_server, "imp/force:v2", ["imp/force:live"], force=True
    )
    assert dst.get_tag_properties("imp/force", "live").digest == second


def test_import_missing_source_is_image_not_found(fleet_env: FleetEnv) -> None:
    with pytest.raises(RegistryImportError) as err:
        fleet_env.fleet.import_image("dst", fleet_env.src.login_server, "nothing/here:1", ["nothing/here:1"])
    assert err.value.code == "ImageNotFound"


def test_import_of_an_index_copies_children_first_and_keeps_digest(fleet_env: FleetEnv) -> None:
    amd, amd_raw = _oci_image(fleet_env, "imp/multi", None, "amd64")
    arm, arm_raw = _oci_image(fleet_env, "imp/multi", None, "arm64")
    index = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [
                {
                    "mediaType": OCI_MANIFEST,
                    "digest": amd,
                    "size": len(amd_raw),
                    "platform": {"architecture": "amd64", "os": "linux"},
                },
                {
                    "mediaType": OCI_MANIFEST,
                    "digest": arm,
                    "size": len(arm_raw),
                    "platform": {"architecture": "arm64", "os": "linux"},
                },
            ],
        }
    ).encode()
    src = fleet_env.acr_client(fleet_env.src)
    index_digest = src.set_manifest("imp/multi", io.BytesIO(index), tag="1", media_type=OCI_INDEX)

    got = fleet_env.fleet.import_image("dst", fleet_env.src.login_server, "imp/multi:1", ["imp/multi:1"])
    assert got == index_digest
    dst = fleet_env.acr_client(fleet_env.dst)
    props = dst.get_manifest_properties("imp/multi", "1")
    assert props.digest == index_digest
    assert dst.get_manifest("imp/multi", arm).digest == arm


def test_docker_pushed_image_imports_and_skopeo_copies_between_fronts(
    fleet_env: FleetEnv, tmp_path: Path
) -> None:
    docker_client = fleet_env.docker()
    repository = f"{fleet_env.src.login_server}/peer/tiny"
    import_tiny_image(docker_client, repository, "1")
    fleet_env.docker_login(docker_client, fleet_env.src)
    events = push(docker_client, repository, "1")
    assert push_error(events) is None
    digest = pushed_digest(events)

    assert (
        fleet_env.fleet.import_image("dst", fleet_env.src.login_server, "peer/tiny:1", ["peer/tiny:imported"])
        == digest
    )

    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"default": [{"type": "insecureAcceptAnything"}]}))
    certs = tmp_path / "certs"
    certs.mkdir()
    (certs / "ca.crt").write_bytes(fleet_env.ca.read_bytes())
    src_creds = f"{ACR_USER}:{fleet_env.fleet.mint_refresh_token('src')}"
    dst_creds = f"{ACR_USER}:{fleet_env.fleet.mint_refresh_token('dst')}"
    result = subprocess.run(
        [
            "skopeo",
            "copy",
            "--policy",
            str(policy),
            "--src-cert-dir",
            str(certs),
            "--dest-cert-dir",
            str(certs),
            "--src-creds",
            src_creds,
            "--dest-creds",
            dst_creds,
            f"docker://{repository}:1",
            f"docker://{fleet_env.dst.login_server}/peer/tiny:skopeo",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    dst = fleet_env.acr_client(fleet_env.dst)
    assert dst.get_tag_properties("peer/tiny", "skopeo").digest == digest


def test_fleet_keeps_login_server_across_restart_and_delete_wipes(tmp_path: Path) -> None:
    tokens = TokenIssuer(tmp_path)
    fleet = RegistryFleet(tmp_path, tokens, tmp_path / "tls")
    first = fleet.ensure("keep")
    backend_pid = int((tmp_path / "registries" / "keep" / "registry.pid").read_text())
    fleet.close()
    with pytest.raises(ProcessLookupError):
        import os

        os.kill(backend_pid, 0)

    fleet = RegistryFleet(tmp_path, tokens, tmp_path / "tls")
    try:
        again = fleet.ensure("keep")
        assert again.login_server == first.login_server
        fleet.delete("keep")
        assert fleet.get("keep") is None
        assert not (tmp_path / "registries" / "keep").exists()
    finally:
        fleet.close()
