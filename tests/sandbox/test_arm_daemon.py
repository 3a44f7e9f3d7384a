"""The daemon process: starts, writes the profile, answers health and tokens, keeps its port across
restarts and exits cleanly on SIGTERM. Without a Docker engine it still serves ARM."""

from __future__ import annotations

import json
import os
import signal
import ssl
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from genaiops_sandbox.profile import Profile


def _start(state: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "GENAIOPS_SANDBOX_RETRY_AFTER": "0"}
    env.setdefault("DOCKER_HOST", "unix:///nonexistent/docker.sock")  # never touch a shared engine here
    proc = subprocess.Popen(
        [sys.executable, "-m", "genaiops_sandbox.daemon", "--state-dir", str(state)], env=env
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        profile = Profile.load(state)
        if profile is not None and profile.pid == proc.pid:
            return proc
        assert proc.poll() is None, "daemon exited early; see logs/sandbox.log"
        time.sleep(0.1)
    proc.kill()
    raise AssertionError("daemon did not write its profile")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=15) == 0


def test_daemon_lifecycle(tmp_path: Path) -> None:
    state = tmp_path / "sandbox"
    proc = _start(state)
    try:
        profile = Profile.load(state)
        assert profile is not None
        ctx = ssl.create_default_context(cafile=profile.ca_bundle)
        with urllib.request.urlopen(profile.arm_endpoint + "/sandbox/health", context=ctx) as resp:
            assert resp.status == 200 and json.loads(resp.read()) == {"status": "ok"}
        from azure.identity import ClientSecretCredential

        token = ClientSecretCredential(
            profile.tenant_id,
            profile.client_id,
            profile.client_secret(),
            authority=profile.authority_host,
            disable_instance_discovery=True,
            connection_verify=profile.ca_bundle,
        ).get_token("https://management.azure.com/.default")
        assert token.token and profile.client_secret() not in (state / "logs" / "sandbox.log").read_text()
    finally:
        _stop(proc)
    first_endpoint = profile.arm_endpoint
    proc = _start(state)
    try:
        assert Profile.load(state).arm_endpoint == first_endpoint  # stable across restarts
    finally:
        _stop(proc)
