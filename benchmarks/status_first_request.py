"""`genaiops status -e ENV`: time from process start to its first request at the stand-in, vs peers.

Starts its own stand-in (temporary GENAIOPS_SANDBOX_DIR, `sandbox down` at the end), provisions the
sample's `dev` environment and deploys the sample agent there (templates/agent as it ships:
`provision`, `build --push`, `deploy`), then times three fresh processes asking for the same
thing, interleaved:

- `genaiops status -e dev` (the installed entry point, genaiops_cli byte-compiled as pip leaves it);
- the floor: a bare Python script with the same SDKs doing the same first requests (azure-identity's
  ClientSecretCredential → Entra token, azure-mgmt-appcontainers → GET the container app);
- `az containerapp revision list` (azure-cli from its own venv, ~/.cache/genaiops-test/az, signed in to
  the stand-in beforehand as the same service principal; skipped with the reason when absent).

"First request" is the first request any of the stand-in's HTTPS listeners logs for that process: its
arrival is the log line's time minus the duration it reports (millisecond resolution), measured from
the moment just before the process is spawned. Whole-process wall and CPU (user + sys) are printed
beside it, which request came first, and how many requests reached the stand-in's ARM/Entra listener
and the environment's registry front (genaiops reads its release ledger there).

    python benchmarks/status_first_request.py [--runs 7]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import resource
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
ENV, RG = "dev", "rg-dev"
AZ_VENV = Path(os.environ.get("GENAIOPS_AZ_VENV", Path.home() / ".cache" / "genaiops-test" / "az"))
# "2026-12-05 14:03:34,123 INFO genaiops.sandbox.arm Thread-3: GET /subscriptions/… -> 200 (4 ms)"
RATIO_KEYS = (("first request", "first"), ("wall", "wall"), ("CPU", "cpu"))
LOG_LINE = re.compile(r"^(\S+ \S+),(\d+) INFO genaiops\.sandbox\.\S+ .*?: (\w+) (\S+) -> \d+ \((\d+) ms\)")

BARE_SDK = """
import sys
from pathlib import Path
from azure.identity import ClientSecretCredential
from azure.mgmt.appcontainers import ContainerAppsAPIClient
tenant, client, secret_file, authority, arm, scope, sub, rg, app, ca = sys.argv[1:]
cred = ClientSecretCredential(tenant, client, Path(secret_file).read_text().strip(),
    authority=authority, disable_instance_discovery=True, connection_verify=ca)
apps = ContainerAppsAPIClient(cred, sub, base_url=arm, credential_scopes=[scope], connection_verify=ca)
print(len(list(apps.container_apps_revisions.list_revisions(rg, app))))
"""


def run(cmd: list[str], env: dict[str, str], cwd: Path | None = None) -> str:
    proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:5])} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return proc.stdout


class RequestLog:
    """The stand-in's log (its ARM/Entra listener writes one line per request), read from an offset,
    and the request logs of the registry fronts (`/sandbox/requests`), cleared before each run."""

    def __init__(self, path: Path, registries: list[str], ca: str) -> None:
        self.path = path
        self.offset = 0
        self.registries = registries
        self.tls = ssl.create_default_context(cafile=ca)

    def mark(self) -> None:
        self.offset = self.path.stat().st_size if self.path.exists() else 0
        for server in self.registries:
            req = urllib.request.Request(f"https://{server}/sandbox/requests", method="DELETE")
            urllib.request.urlopen(req, context=self.tls).close()

    def registry_requests(self) -> int:
        total = 0
        for server in self.registries:
            with urllib.request.urlopen(f"https://{server}/sandbox/requests", context=self.tls) as r:
                total += len(json.loads(r.read())["requests"])
        return total

    def since_mark(self) -> list[tuple[float, str]]:
        """(arrival time as a UNIX timestamp, "METHOD path") of each request logged since mark()."""
        with self.path.open("rb") as f:
            f.seek(self.offset)
            lines = f.read().decode(errors="replace").splitlines()
        out = []
        for line in lines:
            if m := LOG_LINE.match(line):
                when, ms, method, path, took = m.groups()
                logged = dt.datetime.strptime(when, "%Y-%m-%d %H:%M:%S").timestamp() + int(ms) / 1000
                out.append((logged - int(took) / 1000, f"{method} {path}"))
        return sorted(out)


def timed(cmd: list[str], env: dict[str, str], cwd: Path | None, log: RequestLog) -> dict:
    log.mark()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    spawned = time.time()
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:5])} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    time.sleep(0.05)  # the daemon's log handler flushes each line; give the last one a moment
    seen = log.since_mark()
    if not seen:
        raise SystemExit(f"{' '.join(cmd[:5])} made no request the stand-in logged")
    return {
        "first": seen[0][0] - spawned,
        "first_request": shorten(seen[0][1]),
        "requests": len(seen),
        "registry": log.registry_requests(),
        "wall": wall,
        "cpu": after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime,
    }


def shorten(request: str) -> str:
    method, _, path = request.partition(" ")
    if "/oauth2/" in path:
        return f"{method} Entra token"
    return f"{method} …/{path.split('/providers/')[-1]}" if "/providers/" in path else request


def sign_in_az(az: Path, work: Path, profile: object) -> dict[str, str]:
    env = {
        **os.environ,
        "AZURE_CONFIG_DIR": str(work / "az-config"),
        "REQUESTS_CA_BUNDLE": profile.ca_bundle,  # type: ignore[attr-defined]
        "AZURE_CORE_COLLECT_TELEMETRY": "false",
        "AZURE_CORE_ONLY_SHOW_ERRORS": "true",
        "AZURE_CORE_NO_COLOR": "true",
    }
    arm = profile.arm_endpoint.rstrip("/")  # type: ignore[attr-defined]
    secret = Path(profile.client_secret_file).read_text().strip()  # type: ignore[attr-defined]
    run([str(az), "config", "set", "core.instance_discovery=false"], env)
    run([str(az), "cloud", "register", "-n", "GenaiopsBench", "--endpoint-resource-manager", arm], env)
    run([str(az), "cloud", "set", "-n", "GenaiopsBench"], env)
    run(
        [str(az), "login", "--service-principal", "-u", profile.client_id, "-p", secret]  # type: ignore[attr-defined]
        + ["--tenant", profile.tenant_id, "--only-show-errors"],  # type: ignore[attr-defined]
        env,
    )
    return env


def deploy_sample(work: Path, env: dict[str, str]) -> tuple[Path, str, str]:
    project = work / "project"
    shutil.copytree(REPO / "templates" / "agent", project)  # its `dev` environment, as it ships
    gops = [sys.executable, "-m", "genaiops_cli"]
    run([*gops, "-y", "provision", "-e", ENV], env, project)
    run([*gops, "build", "--push", "-e", ENV], env, project)
    run([*gops, "-y", "deploy", "-e", ENV], env, project)
    status = json.loads(run([*gops, "-o", "json", "status", "-e", ENV], env, project))
    service = status["result"]["services"][0]
    registry = str(service["revisions"][0]["image"]).split("/")[0]  # the environment's login server
    return project, service["app"], registry


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument(
        "--baseline",
        type=Path,
        help="a checkout of another revision (e.g. `git archive main genaiops_cli | tar -x -C DIR`): its "
        "genaiops_cli runs as one more contender, interleaved, for a before/after on equal terms",
    )
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="gops-bench-status-"))
    env = standin_env(work)
    standin_up(env)
    try:
        from genaiops_sandbox.baseimage import ensure_base_image
        from genaiops_sandbox.profile import Profile

        profile = Profile.load(work / "sandbox")
        ensure_base_image(profile.docker_host, work / "cache")
        project, app, registry = deploy_sample(work, env)
        # whole process, as the user runs it: the entry point, genaiops_cli byte-compiled as pip installs it
        run([sys.executable, "-m", "compileall", "-q", str(REPO / "genaiops_cli")], env)
        entry = Path(sys.executable).parent / "genaiops"
        gops = [str(entry)] if entry.exists() else [sys.executable, "-m", "genaiops_cli"]
        os.environ["GENAIOPS_SANDBOX_DIR"] = env["GENAIOPS_SANDBOX_DIR"]
        from genaiops_cli.core.cloud import target_for

        t = target_for("sandbox", None)  # the endpoints, scope and CA genaiops itself uses
        contenders: dict[str, tuple[list[str], dict[str, str], Path | None]] = {
            "genaiops status -e dev": ([*gops, "status", "-e", ENV], env, project),
            "bare SDK script (floor)": (
                [sys.executable, "-c", BARE_SDK, profile.tenant_id, profile.client_id]
                + [profile.client_secret_file, t.authority_host, t.arm_endpoint, t.arm_scope]
                + [t.subscription_id, RG, app, t.ca_bundle],
                env,
                None,
            ),
        }
        if args.baseline:
            base = args.baseline.resolve()
            run([sys.executable, "-m", "compileall", "-q", str(base / "genaiops_cli")], env)
            # its own cache dir: the manifest cache is keyed by the code that validated it
            base_env = {**env, "PYTHONPATH": str(base), "GENAIOPS_CACHE_DIR": str(work / "cache-baseline")}
            contenders[f"genaiops status ({base.name})"] = ([*gops, "status", "-e", ENV], base_env, project)
        az = AZ_VENV / "bin" / "az"
        az_note = f"az: {az}"
        if az.exists():
            az_env = sign_in_az(az, work, profile)
            contenders["az containerapp revision list"] = (
                [str(az), "containerapp", "revision", "list", "-n", app, "-g", RG, "--only-show-errors"],
                az_env,
                None,
            )
        else:
            az_note = f"az: skipped, {az} not found (install azure-cli into {AZ_VENV})"
        log = RequestLog(work / "sandbox" / "logs" / "sandbox.log", [registry], profile.ca_bundle)
        results: dict[str, list[dict]] = {name: [] for name in contenders}
        for _ in range(args.warmup):
            for cmd, cenv, cwd in contenders.values():
                timed(cmd, cenv, cwd, log)
        load_before = load()
        for _ in range(args.runs):
            for name, (cmd, cenv, cwd) in contenders.items():
                results[name].append(timed(cmd, cenv, cwd, log))
        report(results, args, load_before, az_note)
    finally:
        standin_reset(env)
        shutil.rmtree(work, ignore_errors=True)


def report(results: dict[str, list[dict]], args: argparse.Namespace, load_before: str, az_note: str) -> None:
    def med(name: str, key: str) -> float:
        return statistics.median(r[key] for r in results[name])

    def ratios(a: str, b: str) -> str:
        return ", ".join(f"{key} {med(a, k) / med(b, k):.2f}" for key, k in RATIO_KEYS)

    print(
        f"conditions: fresh processes, {args.runs} interleaved runs + {args.warmup} warm-up each, medians; "
        "first request = arrival logged by the stand-in minus process spawn; whole-process wall and CPU; "
        f"genaiops_cli byte-compiled; {os.cpu_count()} cores"
    )
    print(f"machine: before {load_before}; after {load()}")
    print(az_note)
    print(
        f"{'contender':<32}{'first request':>14}{'wall':>9}{'CPU':>9}{'ARM+Entra':>10}{'registry':>9}"
        "  first request was"
    )
    for name in results:
        first, wall, cpu = (med(name, k) * 1000 for k in ("first", "wall", "cpu"))
        requests, registry = round(med(name, "requests")), round(med(name, "registry"))
        which = results[name][-1]["first_request"]
        print(f"{name:<32}{first:>12.0f}ms{wall:>7.0f}ms{cpu:>7.0f}ms{requests:>10}{registry:>9}  {which}")
    ours = "genaiops status -e dev"
    for name in results:
        if name.startswith("genaiops status ("):
            print(f"this tree / {name[len('genaiops status ') :]}: {ratios(ours, name)}")
        elif name != ours:
            print(f"ratio genaiops / {name}: {ratios(ours, name)}")


if __name__ == "__main__":
    main()
