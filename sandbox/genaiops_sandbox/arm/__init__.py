"""The stand-in's ARM endpoint (plus the Entra-style token endpoint and /sandbox admin routes)."""

from __future__ import annotations

import ssl
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..ca import ensure_ca, issue_server_cert
from ..faults import FaultTable
from ..tokens import TokenIssuer
from .api import ArmApi
from .entra import ClientCredentials, ensure_client_credentials
from .server import ArmServer
from .store import ResourceStore

__all__ = ["ArmEndpoint", "ArmServer", "ClientCredentials", "ensure_client_credentials", "start_arm"]


@dataclass
class ArmEndpoint:
    server: ArmServer
    api: ArmApi
    credentials: ClientCredentials
    ca_bundle: Path
    thread: threading.Thread

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.server.port}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def start_arm(
    state_dir: Path,
    tls_dir: Path,
    *,
    port: int = 0,
    issuer: TokenIssuer | None = None,
    runtime: Any = None,
    fleet: Any = None,
    runtime_error: str | None = None,
    retry_after: int = 1,
    faults: FaultTable | None = None,
    validator: Any = None,
    validation_log: Path | None = None,
) -> ArmEndpoint:
    """Bind, build and serve in a background thread; returns once the port is listening."""
    ca = ensure_ca(tls_dir)
    cert = issue_server_cert(tls_dir, "arm", ["127.0.0.1", "localhost"])
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(cert.cert), str(cert.key))
    issuer = issuer or TokenIssuer(state_dir)
    credentials = ensure_client_credentials(state_dir)
    faults = faults or FaultTable()
    store = ResourceStore(state_dir)
    # The API needs the final URL for Location headers; bind first, then attach the API.
    server = ArmServer(
        port,
        api=None,
        issuer=issuer,
        credentials=credentials,  # type: ignore[arg-type]
        ssl_context=context,
        faults=faults,
        validator=validator,
        validation_log=validation_log,
    )
    api = ArmApi(
        store,
        subscription_id=credentials.subscription_id,
        tenant_id=credentials.tenant_id,
        client_id=credentials.client_id,
        base_url=f"https://127.0.0.1:{server.port}",
        runtime=runtime,
        fleet=fleet,
        faults=faults,
        retry_after=retry_after,
        runtime_error=runtime_error,
    )
    server.api = api
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.2}, name="sandbox-arm", daemon=True
    )
    thread.start()
    return ArmEndpoint(server=server, api=api, credentials=credentials, ca_bundle=ca.cert, thread=thread)
