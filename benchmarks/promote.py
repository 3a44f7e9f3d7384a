"""Promotion copy vs `skopeo copy` between two stand-in registries, and same-registry request count.

Needs a running stand-in (GENAIOPS_SANDBOX_DIR) with rg-dev/crdev and rg-prod/crprod and the sample
image pushed to crdev as contoso/agent (e.g. after `genaiops build --push -e dev`).
Usage: python benchmarks/promote.py DIGEST"""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from genaiops_cli.core.cloud import target_for
from genaiops_cli.providers.azure import acr
from genaiops_cli.providers.azure.registry_copy import RegistryRef, copy_image


def request_log(server: str, ca: str, clear: bool = False) -> list[dict]:
    ctx = ssl.create_default_context(cafile=ca)
    req = urllib.request.Request(f"https://{server}/sandbox/requests", method="DELETE" if clear else "GET")
    with urllib.request.urlopen(req, context=ctx) as r:
        return [] if clear else json.loads(r.read())["requests"]


def main(digest: str) -> None:
    t = target_for("sandbox", None)
    src = acr.login_server(t, "rg-dev", "crdev")
    dst = acr.login_server(t, "rg-prod", "crprod")
    # each contender copies into its own cold registry: prod (blobs), staging (import), crqaone (skopeo)
    # Sign in before any timer, as skopeo gets its registry credentials before its timer starts.
    from genaiops_cli.core.cloud import ARM_SCOPE
    from genaiops_cli.providers.azure import clients

    clients.credential(t).get_token(ARM_SCOPE)
    results = {}
    for method, (rg, name) in {"blobs": ("rg-prod", "crprod"), "import": ("rg-staging", "crstaging")}.items():
        server = acr.login_server(t, rg, name)
        start = time.perf_counter()
        r = copy_image(
            RegistryRef(t, src, "rg-dev", "crdev"),
            RegistryRef(t, server, rg, name),
            "contoso/agent",
            digest,
            f"bench-{method}",
            method,
        )
        results[method] = {
            "seconds": round(time.perf_counter() - start, 3),
            "method": r.method,
            "blobs": r.blobs_copied,
            "bytes": r.bytes_copied,
        }
    dst = acr.login_server(t, "rg-qa", "crqaone")
    # fair comparison: both tools into a registry that lacks the blobs → use a fresh target repo each
    with tempfile.TemporaryDirectory() as tmp:
        policy = Path(tmp, "policy.json")
        policy.write_text('{"default":[{"type":"insecureAcceptAnything"}]}')
        certs = Path(tmp, "certs")
        certs.mkdir()
        Path(certs, "ca.crt").write_text(Path(t.ca_bundle).read_text())
        token = acr.refresh_token(t, src)
        token_dst = acr.refresh_token(t, dst)
        cmd = [
            "skopeo",
            "--policy",
            str(policy),
            "copy",
            "--src-cert-dir",
            str(certs),
            "--dest-cert-dir",
            str(certs),
            "--src-creds",
            f"{acr.ACR_TOKEN_USER}:{token}",
            "--dest-creds",
            f"{acr.ACR_TOKEN_USER}:{token_dst}",
            f"docker://{src}/contoso/agent@{digest}",
            f"docker://{dst}/skopeo/agent:bench",
        ]
        start = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        skopeo = time.perf_counter() - start
    request_log(src, t.ca_bundle, clear=True)
    copy_image(RegistryRef(t, src), RegistryRef(t, src), "contoso/agent", digest, "bench-retag")
    same = [(r["method"], r["path"]) for r in request_log(src, t.ca_bundle)]
    print(
        json.dumps(
            {"copy": results, "skopeo_seconds": round(skopeo, 3), "same_registry_requests": same}, indent=1
        )
    )


if __name__ == "__main__":
    os.environ.setdefault("GENAIOPS_SANDBOX_DIR", "/tmp/p6sb")
    main(sys.argv[1])
