"""The docker-py-free engine probe a no-op build uses, against the real engine."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from genaiops_cli.providers.docker import builder
from genaiops_cli.providers.docker.engine import EngineUnreachable, engine_get_json

pytestmark = pytest.mark.skipif(
    not os.path.exists("/var/run/docker.sock") and not os.environ.get("DOCKER_HOST"), reason="no engine"
)


def test_probe_answers_like_docker_py():
    status, body = engine_get_json("/version")
    assert status == 200 and body["ApiVersion"]
    assert builder.image_id("genaiops-no-such/image:never") is None


def test_image_id_of_a_present_image_matches_the_engine():
    images = subprocess.run(
        ["docker", "images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"], capture_output=True, text=True
    ).stdout.split("\n")
    ref, short_id = next(line.split() for line in images if line and "<none>" not in line)
    assert builder.image_id(ref).removeprefix("sha256:").startswith(short_id)


def test_image_id_imports_no_docker_py():
    """The no-op build's probe loads neither docker-py nor http.client/ssl/tarfile (≈ 0.1 s + 35 ms)."""
    code = (
        "import sys, json; from genaiops_cli.providers.docker import builder; "
        "builder.image_id('genaiops-no-such/image:never'); "
        "heavy = ('docker', 'http.client', 'ssl', 'tarfile'); "
        "print(json.dumps(sorted(m for m in heavy if m in sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_probe_status_of_a_missing_image_is_404():
    status, body = engine_get_json("/images/genaiops-no-such%2Fimage%3Anever/json")
    assert status == 404 and "message" in body


def test_tls_engines_are_left_to_docker_py(monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", "ssh://user@host")
    with pytest.raises(EngineUnreachable):
        engine_get_json("/version")
