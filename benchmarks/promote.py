"""Promotion copy between two stand-in registries vs `skopeo copy`, every contender into an EMPTY registry.

Starts its own stand-in (temporary GENAIOPS_SANDBOX_DIR, `sandbox down` at the end), pushes the sample
image (templates/agent on genaiops/python-base:3.11) to a source registry with `genaiops build --push`,
then per run creates three new registries and times, interleaved:

- genaiops client-side copy (`promote --copy blobs`: missing blobs only, in parallel, then the manifest);
- genaiops server-side `importImage` (what `promote --copy auto` uses between ACRs);
- `skopeo copy docker://src@digest docker://dst:tag` with the same CA and ACR tokens.

Each side gets its registry credentials before its timer starts (skopeo: ACR refresh tokens on the
command line; genaiops: Entra sign-in done once in this process). Then a same-registry promotion
(re-tag) in three fresh interpreters — without the token cache, with an empty one, and with the
tokens the previous one cached — counting every request each makes: at the registry front (its
request log) and at Entra (the stand-in's log: OpenID discovery, token).

With `--baseline DIR` (another checkout, e.g. `git archive main genaiops_cli | tar -x -C DIR`) the
client-side copy of this tree and of DIR also run per round, each in a fresh interpreter signed in
before its timer: a before/after on equal terms, in the same run.

    python benchmarks/promote.py [--runs 5] [--baseline DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from _conditions import load
from _standin import standin_env, standin_reset, standin_up

REPO = Path(__file__).resolve().parents[1]
ARM_LOG_LINE = re.compile(r"INFO genaiops\.sandbox\.arm .*?: (\w+ \S+) -> \d+")
RG = "rg-bench"

SAME_REGISTRY = """
import json, sys
from genaiops_cli.core.cloud import target_for
from genaiops_cli.providers.azure.registry_copy import RegistryRef, copy_image
t = target_for("sandbox", None)
server, digest = sys.argv[1], sys.argv[2]
r = copy_image(RegistryRef(t, server), RegistryRef(t, server), "contoso/agent", digest, "bench-retag")
print(json.dumps({"method": r.method}))
"""


# One client-side copy in a fresh interpreter (for --baseline: this tree and another checkout on the same
# terms): signed in to Entra and holding the source's pull token before the timer, as the in-process
# contender is after its first run; prints the seconds the copy took.
COPY_ONE = """
import json, sys, time
from genaiops_cli.core.cloud import ARM_SCOPE, target_for
from genaiops_cli.providers.azure import clients
from genaiops_cli.providers.azure.registry_copy import RegistryRef, copy_image
from genaiops_cli.providers.azure.registry_raw import raw_registry
t = target_for("sandbox", None)
src, dst, rg, name, digest = sys.argv[1:]
clients.credential(t).get_token(ARM_SCOPE)
raw_registry(t, src).get_manifest("contoso/agent", digest)
start = time.perf_counter()
r = copy_image(RegistryRef(t, src, rg, "crsrc"), RegistryRef(t, dst, rg, name), "contoso/agent", digest,
               "bench", "blobs")
print(json.dumps({"seconds": time.perf_counter() - start, "blobs": r.blobs_copied}))
"""


def request_log(server: str, ca: str, clear: bool = False) -> list[dict]:
    ctx = ssl.create_default_context(cafile=ca)
    req = urllib.request.Request(f"https://{server}/sandbox/requests", method="DELETE" if clear else "GET")
    with urllib.request.urlopen(req, context=ctx) as r:
        return [] if clear else json.loads(r.read())["requests"]


def entra_requests(log: Path, offset: int) -> list[str]:
    """The Entra requests (OpenID discovery, token) the stand-in logged after `offset`."""
    with log.open("rb") as f:
        f.seek(offset)
        lines = f.read().decode(errors="replace").splitlines()
    found = [m.group(1) for line in lines if (m := ARM_LOG_LINE.search(line))]
    return [r for r in found if "/oauth2/" in r or "openid-configuration" in r]


def same_registry(
    server: str, digest: str, ca: str, sandbox_log: Path, env: dict[str, str]
) -> tuple[list[str], list[str]]:
    """One same-registry promotion in a fresh interpreter: (registry requests, Entra requests)."""
    request_log(server, ca, clear=True)
    log_offset = sandbox_log.stat().st_size
    subprocess.run(
        [sys.executable, "-c", SAME_REGISTRY, server, digest], env=env, check=True, capture_output=True
    )
    time.sleep(0.05)  # the daemon writes its log line after the response
    registry = [f"{r['method']} {r['path']}" for r in request_log(server, ca)]
    return registry, entra_requests(sandbox_log, log_offset)


def report_same_registry(label: str, registry: list[str], entra: list[str]) -> None:
    gets = sum(1 for r in registry if r.startswith("GET ") and "/manifests/" in r)
    puts = sum(1 for r in registry if r.startswith("PUT ") and "/manifests/" in r)
    tokens = [r for r in registry + entra if "/oauth2/" in r or "openid-configuration" in r]
    total = len(registry) + len(entra)
    print(
        f"same-registry promotion, {label}: {total} requests = {len(registry)} at the registry "
        f"({gets} manifest GET, {puts} manifest PUT, {len(registry) - gets - puts} ACR token flow) "
        f"+ {len(entra)} at Entra"
    )
    for r in entra + registry:
        print(f"    {r}")
    met = gets == 1 and puts == 1 and len(tokens) <= 1
    print(
        f"  goal: 1 manifest GET + 1 PUT + at most 1 token request -> {'met' if met else 'NOT met'}: "
        f"{len(tokens)} sign-in/token requests (ACR's flow is Entra token -> /oauth2/exchange -> "
        "/oauth2/token; the token cache keeps Entra's and ACR's tokens between processes)"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument(
        "--baseline",
        type=Path,
        help="another checkout's root (holding genaiops_cli/): its client-side copy and this tree's, each in "
        "a fresh interpreter, join the interleaved runs (a before/after on equal terms)",
    )
    args = ap.parse_args()
    runs = args.runs
    if shutil.which("skopeo") is None:
        raise SystemExit("skopeo not found (apt-get install skopeo): no peer to compare with")
    work = Path(tempfile.mkdtemp(prefix="gops-bench-promote-"))
    env = standin_env(work)
    os.environ.update({k: env[k] for k in ("GENAIOPS_SANDBOX_DIR", "GENAIOPS_CACHE_DIR")})
    standin_up(env)
    try:
        from genaiops_cli.core.cloud import ARM_SCOPE, target_for
        from genaiops_cli.providers.azure import acr, clients
        from genaiops_cli.providers.azure.registry_copy import RegistryRef, copy_image
        from genaiops_sandbox.baseimage import ensure_base_image
        from genaiops_sandbox.profile import Profile

        profile = Profile.load(work / "sandbox")
        ensure_base_image(profile.docker_host, work / "cache")
        t = target_for("sandbox", None)
        clients.resource_groups(t).resource_groups.create_or_update(RG, {"location": "eastus2"})

        def new_registry(name: str) -> str:
            clients.registry_management(t).registries.begin_create(
                RG, name, {"location": "eastus2", "sku": {"name": "Standard"}}
            ).result()
            return acr.login_server(t, RG, name)

        src = new_registry("crsrc")
        project = work / "project"
        shutil.copytree(REPO / "templates" / "agent", project)
        manifest = project / "genaiops.yaml"
        manifest.write_text(
            manifest.read_text().replace(
                "environments:\n",
                "environments:\n  bench:\n    cloud: sandbox\n"
                '    subscription: "00000000-0000-0000-0000-000000000000"\n'
                f"    resource_group: {RG}\n    location: eastus2\n    registry: crsrc\n"
                "    containerapps_environment: cae-bench\n    identity: id-bench\n    strategy: direct\n",
                1,
            )
        )
        out = subprocess.run(
            [sys.executable, "-m", "genaiops_cli", "-o", "json", "build", "--push", "-e", "bench"],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        digest = json.loads(out)["result"]["builds"][0]["digest"]

        clients.credential(t).get_token(ARM_SCOPE)  # genaiops signs in before its timers, as skopeo does
        certs = work / "certs"
        certs.mkdir()
        (certs / "ca.crt").write_text(Path(t.ca_bundle).read_text())
        policy = work / "policy.json"
        policy.write_text('{"default":[{"type":"insecureAcceptAnything"}]}')
        times: dict[str, list[float]] = {"blobs": [], "import": [], "skopeo": []}
        trees = (
            {"this tree": REPO, args.baseline.resolve().name: args.baseline.resolve()}
            if args.baseline
            else {}
        )
        for tree in trees:
            times[tree] = []
        load_before = load()
        moved = {}
        for i in range(runs):
            for method in ("blobs", "import"):
                name = f"cr{method}{i}"
                server = new_registry(name)
                start = time.perf_counter()
                r = copy_image(
                    RegistryRef(t, src, RG, "crsrc"),
                    RegistryRef(t, server, RG, name),
                    "contoso/agent",
                    digest,
                    "bench",
                    method,
                )
                times[method].append(time.perf_counter() - start)
                moved[method] = (r.method, r.blobs_copied, r.bytes_copied)
            for n, (tree, root) in enumerate(trees.items()):
                name = f"crtree{n}r{i}"
                server = new_registry(name)
                out = subprocess.run(
                    [sys.executable, "-c", COPY_ONE, src, server, RG, name, digest],
                    env={**env, "PYTHONPATH": str(root)},
                    check=True,
                    capture_output=True,
                    text=True,
                ).stdout
                times[tree].append(json.loads(out.splitlines()[-1])["seconds"])
            dst = new_registry(f"crskopeo{i}")
            token_src, token_dst = acr.refresh_token(t, src), acr.refresh_token(t, dst)
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
                f"{acr.ACR_TOKEN_USER}:{token_src}",
                "--dest-creds",
                f"{acr.ACR_TOKEN_USER}:{token_dst}",
                f"docker://{src}/contoso/agent@{digest}",
                f"docker://{dst}/contoso/agent:bench",
            ]
            start = time.perf_counter()
            subprocess.run(cmd, check=True, capture_output=True)
            times["skopeo"].append(time.perf_counter() - start)

        sandbox_log = work / "sandbox" / "logs" / "sandbox.log"
        tokens_dir = work / "token-cache"  # a cache dir of their own: the first run finds it empty
        same_runs = [
            (label, same_registry(src, digest, t.ca_bundle, sandbox_log, {**env, **extra}))
            for label, extra in (
                ("no token cache (GENAIOPS_TOKEN_CACHE=0)", {"GENAIOPS_TOKEN_CACHE": "0"}),
                ("first process, empty token cache", {"GENAIOPS_CACHE_DIR": str(tokens_dir)}),
                ("next process, tokens cached by the first", {"GENAIOPS_CACHE_DIR": str(tokens_dir)}),
            )
        ]
        med = {k: statistics.median(v) for k, v in times.items()}
        print(
            f"conditions: sample image {digest[:19]} ({moved['blobs'][1]} blobs, "
            f"{moved['blobs'][2] / 1e6:.1f} MB), each copy into a NEW empty stand-in registry, {runs} "
            f"interleaved runs, medians, credentials obtained before every timer, {os.cpu_count()} cores"
        )
        print(f"machine: before {load_before}; after {load()}")
        print(f"{'copy':<44}{'genaiops':>10}{'skopeo':>10}{'ratio':>8}")
        print(
            f"{'client-side, missing blobs in parallel':<44}{med['blobs']:>9.2f}s{med['skopeo']:>9.2f}s"
            f"{med['blobs'] / med['skopeo']:>8.2f}  (goal <= 0.9)"
        )
        print(
            f"{'server-side importImage (ARM LRO)':<44}{med['import']:>9.2f}s{med['skopeo']:>9.2f}s"
            f"{med['import'] / med['skopeo']:>8.2f}  (goal <= 1.0)"
        )
        for tree in trees:
            label = f"client-side, {tree} (fresh interpreter)"
            print(f"{label:<44}{med[tree]:>9.2f}s{med['skopeo']:>9.2f}s{med[tree] / med['skopeo']:>8.2f}")
        for label, (same, entra) in same_runs:
            report_same_registry(label, same, entra)
    finally:
        standin_reset(env)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
