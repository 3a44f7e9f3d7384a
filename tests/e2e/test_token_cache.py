"""Tokens kept between processes (providers/token_cache.py), through the real azure-identity + MSAL
persistent cache and the stand-in's real Entra endpoint and ACR-shaped registry front: each case
runs a same-registry promotion (re-tag) in fresh interpreters and counts what they send at Entra (the
stand-in's log) and at the registry (its request log)."""

from __future__ import annotations

import base64
import json
import os
import re
import ssl
import stat
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from genaiops_cli.core.cloud import target_for
from genaiops_cli.providers.azure import acr, clients
from tests.e2e.infra import push_empty_image

from .conftest import REPO as ROOT
from .conftest import Sandbox, own_project

RG = "rg-tokencache"
REPO = "contoso/tokens"
ARM_LOG_LINE = re.compile(r"INFO genaiops\.sandbox\.arm .*?: (\w+) (\S+) -> (\d+)")
RETAG = """
import sys
from genaiops_cli.core.cloud import target_for
from genaiops_cli.providers.azure.registry_copy import RegistryRef, copy_image
t = target_for("sandbox", None)
server, digest, tag = sys.argv[1:]
done = copy_image(RegistryRef(t, server), RegistryRef(t, server), "contoso/tokens", digest, tag)
assert done.method == "retag", done
"""


@pytest.fixture(scope="module")
def image(sandbox: Sandbox) -> tuple[str, str]:
    """A registry of this module's own holding one small image: (login server, manifest digest)."""
    target = target_for("sandbox", None)
    clients.resource_groups(target).resource_groups.create_or_update(RG, {"location": "eastus2"})
    clients.registry_management(target).registries.begin_create(
        RG, "crtokencache", {"location": "eastus2", "sku": {"name": "Standard"}}
    ).result()
    server = acr.login_server(target, RG, "crtokencache")
    return server, push_empty_image(target, server, REPO, "v1")


class Counted:
    def __init__(self, entra: list[str], registry: list[str]) -> None:
        self.entra, self.registry = entra, registry

    @property
    def entra_tokens(self) -> int:
        return sum(1 for r in self.entra if r.startswith("POST ") and "/oauth2/" in r)

    @property
    def exchanges(self) -> int:
        return self.registry.count("POST /oauth2/exchange 200")

    def __repr__(self) -> str:
        return f"entra={self.entra} registry={self.registry}"


def retag(sandbox: Sandbox, image: tuple[str, str], cache: Path, tag: str = "again", **env: str) -> Counted:
    """One same-registry promotion in a fresh interpreter with `cache` as GENAIOPS_CACHE_DIR."""
    server, digest = image
    target = target_for("sandbox", None)
    ctx = ssl.create_default_context(cafile=target.ca_bundle)
    urllib.request.urlopen(
        urllib.request.Request(f"https://{server}/sandbox/requests", method="DELETE"), context=ctx
    )
    log = Path(sandbox.profile.log_file)
    offset = log.stat().st_size
    run = subprocess.run(
        [sys.executable, "-c", RETAG, server, digest, tag],
        env={**os.environ, "GENAIOPS_CACHE_DIR": str(cache), **env},
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    with log.open("rb") as fh:
        fh.seek(offset)
        lines = fh.read().decode(errors="replace").splitlines()
    tenant = target.tenant_id
    entra = [f"{m[1]} {m[2]}" for line in lines if (m := ARM_LOG_LINE.search(line)) and f"/{tenant}/" in m[2]]
    with urllib.request.urlopen(f"https://{server}/sandbox/requests", context=ctx) as r:
        registry = [f"{e['method']} {e['path']} {e['status']}" for e in json.loads(r.read())["requests"]]
    return Counted(entra, registry)


def files(cache: Path) -> dict[str, Path]:
    return {p.name: p for p in (cache / "tokens").iterdir() if not p.name.endswith(".lockfile")}


def test_a_second_process_reuses_the_first_ones_tokens(sandbox: Sandbox, image, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = retag(sandbox, image, cache)
    assert first.entra_tokens == 1 and first.exchanges == 1, first
    second = retag(sandbox, image, cache)
    assert second.entra == [] and second.registry == [
        f"GET /v2/{REPO}/manifests/{image[1]} 200",
        f"PUT /v2/{REPO}/manifests/again 201",
    ], second  # the goal: one manifest GET + one PUT, no token request at all

    folder = cache / "tokens"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    found = files(cache)
    assert "acr.json" in found and any(n.startswith("entra-") and n.endswith(".nocae") for n in found)
    for path in found.values():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    shared = Path.home() / ".IdentityService"  # azure-identity's default folder, shared by other tools
    assert not any(shared.glob("entra*")), "genaiops' cache stays in its own folder"

    found["acr.json"].unlink()  # only Entra's cache left: MSAL answers from it, ACR's flow runs
    third = retag(sandbox, image, cache)
    assert third.entra_tokens == 0, third
    assert third.exchanges == 1 and third.registry.count("POST /oauth2/token 200") == 1, third


def test_opt_out_signs_in_every_time_and_writes_nothing(sandbox: Sandbox, image, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    for _ in range(2):
        run = retag(sandbox, image, cache, GENAIOPS_TOKEN_CACHE="0")
        assert run.entra_tokens == 1 and run.exchanges == 1, run
    assert not (cache / "tokens").exists()


@pytest.mark.parametrize(
    "garbage",
    [b"\x00\xffnot json at all", b'{"AccessToken": {"k": {"secret": "x"}}}', b"[1, 2, 3]"],
    ids=["bytes", "msal-shape-without-expiry", "a-list"],
)
def test_a_garbage_cache_file_is_ignored_not_fatal(
    sandbox: Sandbox, image, tmp_path: Path, garbage: bytes
) -> None:
    cache = tmp_path / "cache"
    retag(sandbox, image, cache)
    for path in files(cache).values():
        path.write_bytes(garbage)
    run = retag(sandbox, image, cache)
    assert run.entra_tokens == 1 and run.exchanges == 1, run  # signed in afresh, no error
    assert retag(sandbox, image, cache).entra == []  # and the rewritten cache serves the next one
    for path in files(cache).values():
        json.loads(path.read_text())


def test_a_cache_file_with_wrong_permissions_is_ignored(sandbox: Sandbox, image, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    retag(sandbox, image, cache)
    for path in files(cache).values():
        path.chmod(0o644)  # readable by others: not trusted, not read
    run = retag(sandbox, image, cache)
    assert run.entra_tokens == 1 and run.exchanges == 1, run
    for path in files(cache).values():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path  # replaced by private ones

    (cache / "tokens").chmod(0o755)  # a folder others can list: the cache is off, nothing is read
    run = retag(sandbox, image, cache)
    assert run.entra_tokens == 1 and run.exchanges == 1, run


def _forged(token: str) -> str:
    """The same claims (so the same expiry) under a signature the registry will refuse."""
    header, payload, _ = token.split(".")
    return f"{header}.{payload}.{base64.urlsafe_b64encode(b'x' * 32).rstrip(b'=').decode()}"


def test_a_refused_cached_token_is_dropped_and_the_flow_redone_once(
    sandbox: Sandbox, image, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    retag(sandbox, image, cache)
    path = cache / "tokens" / "acr.json"
    data = json.loads(path.read_text())
    for entry in data["tokens"].values():  # the access token and the refresh token alike
        entry["token"] = _forged(entry["token"])
    path.write_text(json.dumps(data))
    run = retag(sandbox, image, cache)
    assert run.registry == [
        f"GET /v2/{REPO}/manifests/{image[1]} 401",  # the cached access token: refused, dropped
        "POST /oauth2/token 401",  # the cached refresh token: refused, dropped
        "POST /oauth2/exchange 200",  # the flow once more, from the Entra token
        "POST /oauth2/token 200",
        f"GET /v2/{REPO}/manifests/{image[1]} 200",
        f"PUT /v2/{REPO}/manifests/again 201",
    ], run
    assert run.entra_tokens == 0, run  # Entra's cached token was fine
    assert retag(sandbox, image, cache).registry == [
        f"GET /v2/{REPO}/manifests/{image[1]} 200",
        f"PUT /v2/{REPO}/manifests/again 201",
    ]


def test_debug_output_carries_no_token(sandbox: Sandbox, tmp_path: Path) -> None:
    project = own_project(sandbox, tmp_path, ("dev",), prefix="tok")
    env = {"GENAIOPS_CACHE_DIR": str(tmp_path / "cache")}
    outputs = []
    for _ in range(2):  # signing in, then from the cache
        run = project.run("--debug", "-vvv", "history", "-e", "dev", env=env)
        assert run.code == 0, run.stdout + run.stderr[-3000:]
        outputs.append(run.stdout + run.stderr)
    secrets: list[str] = []
    for path in files(tmp_path / "cache").values():
        data = json.loads(path.read_text())
        if "tokens" in data:
            secrets += [e["token"] for e in data["tokens"].values()]
        for entries in data.values():
            if isinstance(entries, dict):
                secrets += [e["secret"] for e in entries.values() if isinstance(e, dict) and "secret" in e]
    assert len(secrets) >= 2, "the run cached an Entra token and ACR tokens"
    for text in outputs:
        for secret in secrets:
            assert secret not in text and secret.split(".")[-1] not in text
        assert not re.search(r"eyJ[\w-]{10,}\.[\w-]{10,}", text), "something JWT-shaped was printed"
