"""The connection profile of a running stand-in: everything a client needs to reach it the way it
would reach Azure (endpoints, the CA to trust, a credential, and the name-resolution map for app URLs).

The daemon writes it to `<state_dir>/profile.json` once every listener is healthy; `sandbox env`
prints it; providers read it for environments with `cloud: sandbox`."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

PROFILE_FILE = "profile.json"
DEFAULT_STATE_DIR_ENV = "GENAIOPS_SANDBOX_DIR"


def default_state_dir() -> Path:
    explicit = os.environ.get(DEFAULT_STATE_DIR_ENV)
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "genaiops" / "sandbox"


@dataclass
class Profile:
    arm_endpoint: str  # https://127.0.0.1:PORT (ARM + the Entra-style token endpoint + /sandbox admin)
    authority_host: str  # https://127.0.0.1:PORT for azure-identity's authority=
    tenant_id: str
    client_id: str
    client_secret_file: str  # the secret itself never goes into the profile or any output
    subscription_id: str
    ca_bundle: str  # PEM of the stand-in CA
    docker_host: str  # the engine that runs revisions, e.g. unix:///…/docker.sock
    router: str  # 127.0.0.1:PORT (HTTPS ingress for every app URL)
    resolve: dict[str, str] = field(default_factory=dict)  # host pattern ("*.domain") → "127.0.0.1:PORT"
    # The token audiences this cloud's ARM and registries accept (what a row of genaiops' cloud table
    # gives for a real Azure cloud): the public cloud's, which arm/server.py and acr_front.py accept.
    arm_audience: str = "https://management.azure.com"
    acr_audience: str = "https://containerregistry.azure.net"
    # A local image builds can use as their Python base when no public registry is reachable (set once
    # `genaiops sandbox up` has assembled it; empty otherwise).
    base_image: str = ""
    log_file: str = ""
    # How often clients poll long-running operations when no Retry-After says otherwise (azure-core
    # reads Retry-After: 0 as "use your own interval"); operations here finish in milliseconds.
    poll_seconds: float = 0.2
    pid: int = 0
    version: int = 1
    # Path-style Blob service (`<endpoint>/<account>/<container>/<blob>`, Entra bearer auth): every
    # storage account name is served there; environment locks are blob leases on it.
    blob_endpoint: str = ""
    # The Log Analytics query API (`<endpoint>/v1/workspaces/<customerId>/query`, token audience
    # https://api.loganalytics.io) over the Application Insights data the stand-in ingested.
    logs_endpoint: str = ""

    def client_secret(self) -> str:
        return Path(self.client_secret_file).read_text().strip()

    def save(self, state_dir: Path) -> Path:
        path = state_dir / PROFILE_FILE
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2, sort_keys=True))
        tmp.replace(path)  # atomic: readers never see half a profile
        return path

    @classmethod
    def load(cls, state_dir: Path) -> Profile | None:
        path = state_dir / PROFILE_FILE
        if not path.exists():
            return None
        data = json.loads(path.read_text())
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})
