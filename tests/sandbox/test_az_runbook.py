"""A third-party client against the stand-in: the az CLI, registered as a custom cloud, walks
Microsoft's documented Container Apps blue/green runbook (create with --revisions-mode multiple and
--revision-suffix, revision labels, ingress traffic by label weight, revision deactivate).

az lives in its own venv (GENAIOPS_AZ_VENV, default ~/.cache/genaiops-test/az), installed once
from PyPI by this fixture when missing (≈ 3 min cold; the pip cache makes a re-install quick)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from genaiops_sandbox import control
from genaiops_sandbox.baseimage import BASE_IMAGE, ensure_base_image

AZ_VENV = Path(os.environ.get("GENAIOPS_AZ_VENV", Path.home() / ".cache" / "genaiops-test" / "az"))
LOCATION = "eastus2"


def _ensure_az() -> Path:
    az = AZ_VENV / "bin" / "az"
    if az.exists():
        return az
    AZ_VENV.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "venv", str(AZ_VENV)], check=True)
    subprocess.run([str(AZ_VENV / "bin" / "pip"), "install", "-q", "azure-cli"], check=True, timeout=1200)
    return az


@pytest.fixture(scope="module")
def standin(tmp_path_factory):
    state = tmp_path_factory.mktemp("az-sbx")
    profile = control.up(state)  # the daemon's defaults, Retry-After included: what az gets
    try:
        ensure_base_image(profile.docker_host, Path(os.environ.get("GENAIOPS_CACHE_DIR", state / "cache")))
        yield state, profile
    finally:
        from genaiops_sandbox.runtime import DockerRuntime  # noqa: F401 - engine must stay importable

        control.reset(state)


class Az:
    def __init__(self, exe: Path, config_dir: Path, ca_bundle: str) -> None:
        self.exe = exe
        self.env = {
            **os.environ,
            "AZURE_CONFIG_DIR": str(config_dir),
            "REQUESTS_CA_BUNDLE": ca_bundle,
            "AZURE_CORE_COLLECT_TELEMETRY": "false",
            "AZURE_CORE_ONLY_SHOW_ERRORS": "true",
            "AZURE_CORE_NO_COLOR": "true",
        }

    def __call__(self, *args: str, timeout: float = 180) -> object:
        started = time.monotonic()
        res = subprocess.run(
            [str(self.exe), *args, "--only-show-errors"] if args[0] != "config" else [str(self.exe), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        took = time.monotonic() - started
        shown = " ".join(
            "***" if prev == "-p" else a for prev, a in zip(("",) + args[:-1], args, strict=True)
        )
        assert res.returncode == 0, f"az {shown} failed ({took:.1f} s):\n{res.stderr[-3000:]}"
        self.timings.append((" ".join(args[:3]), took))
        return json.loads(res.stdout) if res.stdout.strip().startswith(("{", "[")) else res.stdout

    timings: list[tuple[str, float]] = []


def test_az_cli_walks_the_blue_green_runbook(standin, tmp_path) -> None:
    state, profile = standin
    az = Az(_ensure_az(), tmp_path / "az-config", profile.ca_bundle)
    arm = profile.arm_endpoint.rstrip("/")
    secret = Path(profile.client_secret_file).read_text().strip()

    az("config", "set", "core.instance_discovery=false")
    az("cloud", "register", "-n", "GenaiopsSandbox", "--endpoint-resource-manager", arm)
    az("cloud", "set", "-n", "GenaiopsSandbox")
    az(
        "login",
        "--service-principal",
        "-u",
        profile.client_id,
        "-p",
        secret,
        "--tenant",
        profile.tenant_id,
    )
    az("group", "create", "-n", "rg-bluegreen", "-l", LOCATION)
    az(
        "containerapp",
        "env",
        "create",
        "-n",
        "cae-bluegreen",
        "-g",
        "rg-bluegreen",
        "-l",
        LOCATION,
        "--logs-destination",
        "none",
    )
    # argparse would read "-m" as an option: run the module by its path
    server = ["--command", "python3", "--args", "/usr/lib/python3.11/http/server.py", "8080"]
    blue = az(
        "containerapp",
        "create",
        "-n",
        "web",
        "-g",
        "rg-bluegreen",
        "--environment",
        "cae-bluegreen",
        "--image",
        BASE_IMAGE,
        *server,
        "--ingress",
        "external",
        "--target-port",
        "8080",
        "--revisions-mode",
        "multiple",
        "--revision-suffix",
        "blue",
    )
    assert blue["properties"]["configuration"]["activeRevisionsMode"] == "Multiple"
    assert blue["properties"]["latestRevisionName"] == "web--blue"
    az(
        "containerapp",
        "revision",
        "label",
        "add",
        "-n",
        "web",
        "-g",
        "rg-bluegreen",
        "--label",
        "blue",
        "--revision",
        "web--blue",
    )
    az(
        "containerapp",
        "update",
        "-n",
        "web",
        "-g",
        "rg-bluegreen",
        "--revision-suffix",
        "green",
        "--set-env-vars",
        "COLOR=green",
    )
    az(
        "containerapp",
        "revision",
        "label",
        "add",
        "-n",
        "web",
        "-g",
        "rg-bluegreen",
        "--label",
        "green",
        "--revision",
        "web--green",
    )
    az(
        "containerapp",
        "ingress",
        "traffic",
        "set",
        "-n",
        "web",
        "-g",
        "rg-bluegreen",
        "--label-weight",
        "blue=80",
        "green=20",
    )
    traffic = az("containerapp", "ingress", "traffic", "show", "-n", "web", "-g", "rg-bluegreen")
    labelled = {t["label"]: t["weight"] for t in traffic if t.get("label")}
    assert labelled == {"blue": 80, "green": 20}
    assert sum(t["weight"] for t in traffic) == 100  # az keeps a latestRevision entry at 0
    az(
        "containerapp",
        "ingress",
        "traffic",
        "set",
        "-n",
        "web",
        "-g",
        "rg-bluegreen",
        "--label-weight",
        "blue=0",
        "green=100",
    )
    az("containerapp", "revision", "deactivate", "-n", "web", "-g", "rg-bluegreen", "--revision", "web--blue")
    revisions = az("containerapp", "revision", "list", "-n", "web", "-g", "rg-bluegreen", "--all")
    state_of = {r["name"]: (r["properties"]["active"], r["properties"]["trafficWeight"]) for r in revisions}
    assert state_of == {"web--blue": (False, 0), "web--green": (True, 100)}

    # the green label's URL answers through the stand-in's router
    app = az("containerapp", "show", "-n", "web", "-g", "rg-bluegreen")
    domain = app["properties"]["configuration"]["ingress"]["fqdn"].split(".", 1)[1]
    router = profile.router
    req = urllib.request.Request(f"https://{router}/", headers={"Host": f"web---green.{domain}"})
    import ssl

    ctx = ssl.create_default_context(cafile=profile.ca_bundle)
    ctx.check_hostname = False  # the Host header names the app; the router's cert covers it
    with urllib.request.urlopen(req, context=ctx, timeout=10) as resp:
        assert resp.status == 200
    print("az timings:", az.timings)
