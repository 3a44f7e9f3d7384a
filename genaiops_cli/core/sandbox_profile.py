"""The connection profile of a running local Azure stand-in, read the way the CLI needs it.

This file format is the ONE contract between genaiops and the stand-in (the separate
`genaiops-sandbox` distribution, which writes it): `<state dir>/profile.json`, documented in
docs/sandbox.md. Unknown keys are ignored so either side can grow fields first."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, fields
from pathlib import Path

PROFILE_FILE = "profile.json"
STATE_DIR_ENV = "GENAIOPS_SANDBOX_DIR"


def default_state_dir() -> Path:
    explicit = os.environ.get(STATE_DIR_ENV)
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "genaiops" / "sandbox"


@dataclass(frozen=True)
class SandboxProfile:
    arm_endpoint: str
    authority_host: str
    tenant_id: str
    client_id: str
    client_secret_file: str  # a path: the secret itself is never in the profile
    subscription_id: str
    ca_bundle: str
    docker_host: str
    router: str
    resolve: dict[str, str] = field(default_factory=dict)
    # The stand-in's cloud endpoints beyond ARM and the authority (like a row of core/cloud.AZURE_CLOUDS);
    # a profile without them is the public cloud's audiences, which the stand-in accepts.
    arm_audience: str = "https://management.azure.com"
    acr_audience: str = "https://containerregistry.azure.net"
    base_image: str = ""  # a local Python base image for builds on machines with no public registry
    log_file: str = ""
    poll_seconds: float = 0.2
    pid: int = 0
    version: int = 1
    # Path-style Blob service (`<endpoint>/<account>/<container>/<blob>`, Entra bearer auth): every
    # storage account name is served there; environment locks are blob leases on it.
    blob_endpoint: str = ""
    # The Log Analytics query API over the Application Insights data the stand-in ingested
    # (`<endpoint>/v1/workspaces/<customerId>/query`, audience https://api.loganalytics.io).
    logs_endpoint: str = ""

    @classmethod
    def load(cls, state_dir: Path | None = None) -> SandboxProfile | None:
        path = (state_dir or default_state_dir()) / PROFILE_FILE
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            return None
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})
