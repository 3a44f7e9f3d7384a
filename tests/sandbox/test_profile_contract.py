"""The connection profile is the one contract between genaiops and its stand-in: what the stand-in
writes, the CLI reads back field for field (and ignores fields it does not know yet)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from genaiops_cli.core.sandbox_profile import SandboxProfile
from genaiops_sandbox.profile import Profile


def _written(tmp_path: Path) -> Profile:
    profile = Profile(
        arm_endpoint="https://127.0.0.1:4443",
        authority_host="https://127.0.0.1:4443",
        tenant_id="t",
        client_id="c",
        client_secret_file=str(tmp_path / "secret"),
        subscription_id="s",
        ca_bundle=str(tmp_path / "ca.pem"),
        docker_host="unix:///tmp/docker.sock",
        router="127.0.0.1:4444",
        resolve={"*.sandbox.local": "127.0.0.1:4444"},
        log_file="daemon.log",
        poll_seconds=0.5,
        pid=42,
    )
    profile.save(tmp_path)
    return profile


def test_the_cli_reads_every_field_the_stand_in_writes(tmp_path: Path) -> None:
    written = _written(tmp_path)
    read = SandboxProfile.load(tmp_path)
    assert read is not None
    assert dataclasses.asdict(read) == dataclasses.asdict(written)


def test_fields_one_side_does_not_know_are_ignored(tmp_path: Path) -> None:
    _written(tmp_path)
    path = tmp_path / "profile.json"
    data = json.loads(path.read_text())
    data["some_future_endpoint"] = "https://127.0.0.1:9"
    path.write_text(json.dumps(data))
    read = SandboxProfile.load(tmp_path)
    assert read is not None and read.router == "127.0.0.1:4444"


def test_no_profile_means_not_running(tmp_path: Path) -> None:
    assert SandboxProfile.load(tmp_path) is None
