"""Build/push benchmarks against the stand-in, each side by side with plain docker in the same run.

1. No-op build of an unchanged service: `genaiops build` (already built) vs `docker build` of the same
   context hitting its cache (classic builder, as genaiops uses), interleaved; medians. genaiops is run
   as a user runs it (the console entry point, so a repeated no-op is answered from its no-op stamp,
   genaiops_cli/fast_build.py) and, as a second row, with GENAIOPS_FAST_BUILD=0 (the full path: typer,
   manifest, plan, engine probe). The floors are timed in the same loop: `python -c pass` (the
   interpreter alone) and `docker image inspect` (docker's client making one engine request). Engine
   calls are counted by pointing genaiops at a counting unix-socket proxy in front of the engine: every
   `POST /…/build` request is one engine build call (must be zero for the no-op build).
2. Push of the sample image: `genaiops push -e bench` vs `docker push` of the same image, each trial into
   its own freshly created stand-in registry (no blob exists there yet, so both upload everything);
   interleaved; medians. genaiops' time includes its CLI start, the Entra→ACR token exchange and the
   digest read-back; docker's `docker login` is done before its timer starts.

Usage: python benchmarks/build_push.py [--runs 7]   (starts its own sandbox and stops it at the end)"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from _conditions import load
from _standin import BASE_IMAGE, standin_env, standin_reset, standin_up

REPO = Path(__file__).resolve().parents[1]
BUILD_CALL = re.compile(rb"POST /(v[\d.]+/)?build\b")
REQUEST_LINE = re.compile(rb"(GET|POST|PUT|DELETE|HEAD) (/\S*) HTTP/1\.[01]\r\n")


class CountingProxy:
    """A unix socket that forwards to the engine and counts the HTTP requests going through it."""

    def __init__(self, engine_socket: str, path: Path) -> None:
        self.engine_socket, self.path = engine_socket, path
        self.requests: list[str] = []
        self.lock = threading.Lock()
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(str(path))
        self.server.listen(16)
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            upstream.connect(self.engine_socket)
            threading.Thread(target=self._pipe, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, False), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket, count: bool) -> None:
        try:
            while data := src.recv(65536):
                if count:
                    with self.lock:
                        self.requests += [
                            f"{m.group(1).decode()} {m.group(2).decode()}"
                            for m in REQUEST_LINE.finditer(data)
                        ]
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def take(self) -> list[str]:
        with self.lock:
            out, self.requests = self.requests, []
            return out

    def close(self) -> None:
        self.server.close()


CPU: dict[str, list[float]] = {}  # label → CPU seconds (user + sys) of each timed process


def _timed(cmd: list[str], env: dict[str, str], cwd: Path | None, label: str | None) -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"{cmd[:4]} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    if label:
        cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
        CPU.setdefault(label, []).append(cpu)
    return elapsed


def cli(*args: str, cwd: Path, env: dict[str, str], label: str | None = None) -> float:
    return _timed([sys.executable, "-m", "genaiops_cli", *args], env, cwd, label)


def run(cmd: list[str], env: dict[str, str], cwd: Path | None = None, label: str | None = None) -> float:
    return _timed(cmd, env, cwd, label)


def create_registry(target: object, name: str) -> str:
    from genaiops_cli.providers.azure import acr, clients

    clients.registry_management(target).registries.begin_create(  # type: ignore[arg-type]
        "rg-bench", name, {"location": "eastus2", "sku": {"name": "Standard"}}
    ).result()
    return acr.login_server(target, "rg-bench", name)  # type: ignore[arg-type]


def _probe(args: list[str], cwd: Path, env: dict[str, str]) -> str:
    """stderr of one run with GENAIOPS_FAST_BUILD_TRACE: says `fast-build: …` unless the stamp answered."""
    proc = subprocess.run(
        [sys.executable, "-m", "genaiops_cli", *args],
        env={**env, "GENAIOPS_FAST_BUILD_TRACE": "1"},
        cwd=cwd,
        capture_output=True,
        text=True,
    )
    sys.stderr.write("".join(ln + "\n" for ln in proc.stderr.splitlines() if "fast-build" in ln))
    return proc.stderr


def median_ms(values: list[float]) -> float:
    return round(statistics.median(values) * 1000, 1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--skip-push", action="store_true", help="only the no-op build measurements")
    args = parser.parse_args()
    runs = args.runs

    work = Path(tempfile.mkdtemp(prefix="gops-bench-build-"))
    state = work / "sandbox"
    env = standin_env(work, DOCKER_BUILDKIT="0", DOCKER_CONFIG=str(work / "docker-config"))
    os.environ.update({k: env[k] for k in ("GENAIOPS_SANDBOX_DIR",)})
    standin_up(env)
    proxy = None
    try:
        from genaiops_cli.core.cloud import target_for
        from genaiops_cli.providers.azure import acr, clients
        from genaiops_sandbox.baseimage import ensure_base_image
        from genaiops_sandbox.profile import Profile

        profile = Profile.load(state)
        assert profile is not None and profile.docker_host.startswith("unix://"), "needs a unix-socket engine"
        env["DOCKER_HOST"] = os.environ["DOCKER_HOST"] = profile.docker_host
        ensure_base_image(profile.docker_host, work / "cache")
        target = target_for("sandbox", None)
        clients.resource_groups(target).resource_groups.create_or_update("rg-bench", {"location": "eastus2"})

        project = work / "project"
        shutil.copytree(REPO / "templates" / "agent", project)
        manifest = project / "genaiops.yaml"
        manifest.write_text(
            manifest.read_text().replace(
                "environments:\n",
                "environments:\n  bench:\n    cloud: sandbox\n"
                '    subscription: "${AZURE_SUBSCRIPTION_ID:-00000000-0000-0000-0000-000000000000}"\n'
                "    resource_group: rg-bench\n    location: eastus2\n"
                '    registry: "${BENCH_REGISTRY:-crbenchg0}"\n'
                "    containerapps_environment: cae-bench\n    identity: id-bench\n    strategy: direct\n",
                1,
            )
        )
        context = project / "src" / "agent"

        # ---- 1. no-op build
        cli("build", cwd=project, env=env)  # the first (real) build
        tag = json.loads((project / ".genaiops/builds/agent.json").read_text())["tag"]
        docker_cmd = [
            "docker",
            "build",
            "-q",
            "--build-arg",
            f"BASE_IMAGE={BASE_IMAGE}",
            "-t",
            "bench/agent:docker",
            str(context),
        ]
        run(docker_cmd, env)  # warm docker's cache too
        proxy = CountingProxy(profile.docker_host.removeprefix("unix://"), work / "count.sock")
        counted_env = {**env, "DOCKER_HOST": f"unix://{proxy.path}"}
        # `build -e bench`: the image named for the environment's registry (created here, once)
        create_registry(target, "crbenchg0")
        cli("build", "-e", "bench", cwd=project, env=env)  # first: builds the tag, fills the lookup cache
        # whole process, as the user runs it: genaiops_cli byte-compiled as pip installs it
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(REPO / "genaiops_cli")], check=True)
        full_env = {**counted_env, "GENAIOPS_FAST_BUILD": "0"}
        for _ in range(2):  # the second of each leaves the no-op stamp the timed runs are answered from
            cli("build", cwd=project, env=counted_env)
            cli("build", "-e", "bench", cwd=project, env=counted_env)
        inspect_cmd = ["docker", "image", "inspect", "-f", "{{.Id}}", f"contoso/agent:{tag}"]
        times: dict[str, list[float]] = {}
        build_calls, engine_requests = 0, []
        load_before = load()
        for _ in range(runs):
            proxy.take()
            times.setdefault("build", []).append(cli("build", cwd=project, env=counted_env, label="genaiops"))
            seen = proxy.take()
            engine_requests = seen
            build_calls += sum(1 for r in seen if BUILD_CALL.match(r.encode()))
            times.setdefault("build_env", []).append(
                cli("build", "-e", "bench", cwd=project, env=counted_env, label="genaiops_env")
            )
            build_calls += sum(1 for r in proxy.take() if BUILD_CALL.match(r.encode()))
            times.setdefault("full", []).append(
                cli("build", cwd=project, env=full_env, label="genaiops_full")
            )
            times.setdefault("full_env", []).append(
                cli("build", "-e", "bench", cwd=project, env=full_env, label="genaiops_env_full")
            )
            build_calls += sum(1 for r in proxy.take() if BUILD_CALL.match(r.encode()))
            times.setdefault("docker", []).append(run(docker_cmd, env, label="docker"))
            times.setdefault("python", []).append(
                run([sys.executable, "-c", "pass"], env, label="python -c pass")
            )
            times.setdefault("inspect", []).append(run(inspect_cmd, env, label="docker image inspect"))
        # after the timed runs: a traced run that misses would leave a stamp keyed on the trace variable
        served = {
            name: "fast-build:" not in _probe(args, project, counted_env)
            for name, args in (("build", ["build"]), ("build -e bench", ["build", "-e", "bench"]))
        }
        cpu = {k: round(statistics.median(v) * 1000, 1) for k, v in CPU.items()}
        docker_ms = statistics.median(times["docker"])
        noop = {
            "genaiops_build_ms": median_ms(times["build"]),
            "genaiops_build_env_ms": median_ms(times["build_env"]),
            "docker_build_cached_ms": median_ms(times["docker"]),
            "ratio_build": round(statistics.median(times["build"]) / docker_ms, 2),
            "ratio_build_env": round(statistics.median(times["build_env"]) / docker_ms, 2),
            "answered_from_noop_stamp": served,
            "full_path_ms (GENAIOPS_FAST_BUILD=0)": {
                "build": median_ms(times["full"]),
                "build -e bench": median_ms(times["full_env"]),
                "ratio_build": round(statistics.median(times["full"]) / docker_ms, 2),
            },
            "floor_ms": {
                "python -c pass": median_ms(times["python"]),
                "docker image inspect": median_ms(times["inspect"]),
            },
            "cpu_ms": cpu,
            "engine_build_calls": build_calls,
            "engine_requests_per_noop_build": engine_requests,
            "conditions": f"{runs} interleaved runs, medians, whole process, {os.cpu_count()} cores, "
            "classic builder for docker, genaiops byte-compiled, lookup cache warm after one build -e, "
            "no-op stamps written by the warm-up runs",
            "machine": f"before {load_before}; after {load()}",
        }
        if args.skip_push:
            print(json.dumps({"runs": runs, "noop_build": noop}, indent=1))
            return

        # ---- 2. push into fresh registries
        image_size = json.loads(
            subprocess.run(
                ["docker", "image", "inspect", f"contoso/agent:{tag}"],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )[0]["Size"]
        ours, theirs = [], []
        for i in range(1, runs + 1):
            server = create_registry(target, f"crbenchg{i}")
            ours.append(
                cli("push", "-e", "bench", cwd=project, env={**env, "BENCH_REGISTRY": f"crbenchg{i}"})
            )
            server = create_registry(target, f"crbenchd{i}")
            token = acr.refresh_token(target, server)
            subprocess.run(
                ["docker", "login", "-u", acr.ACR_TOKEN_USER, "--password-stdin", server],
                env=env,
                input=token,
                text=True,
                check=True,
                capture_output=True,
            )
            run(["docker", "tag", f"contoso/agent:{tag}", f"{server}/contoso/agent:{tag}"], env)
            theirs.append(run(["docker", "push", f"{server}/contoso/agent:{tag}"], env))
        push = {
            "genaiops_ms": median_ms(ours),
            "docker_push_ms": median_ms(theirs),
            "ratio": round(statistics.median(ours) / statistics.median(theirs), 2),
            "image_mb": round(image_size / 1e6, 1),
        }
        print(json.dumps({"runs": runs, "noop_build": noop, "push": push}, indent=1))
    finally:
        if proxy:
            proxy.close()
        standin_reset(env)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
