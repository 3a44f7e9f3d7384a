"""The managed-identity endpoint Container Apps gives every container of an app or job that has an
identity: `IDENTITY_ENDPOINT` (a plain-HTTP URL) and `IDENTITY_HEADER` (a secret) in its environment;
`GET $IDENTITY_ENDPOINT?resource=<audience>&api-version=2019-08-01` with `X-IDENTITY-HEADER:
$IDENTITY_HEADER` answers `{"access_token", "expires_on", "resource", "token_type", "client_id"}`
(the App Service protocol azure-identity's ManagedIdentityCredential speaks).

The tokens come from the stand-in's one issuer (tokens.py) with the identity's principal as `oid`, so
the blob service, ARM and the ACR front accept them as they accept the developer's. The header names
the identity and is signed with a key of its own (not the token key: a header is never a bearer
token), so it stays valid for containers adopted after a daemon restart. stdlib only."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from genaiops_sandbox.runtime_api import ManagedIdentity

log = logging.getLogger("genaiops.sandbox.identity")

SECRET_FILE = "identity-header-secret"
API_VERSION = "2019-08-01"
TOKEN_TTL = 3600
PATH = "/msi/token"
# how a revision container (on the engine's bridge) reaches a listener on the host
HOST_ALIAS = "host.docker.internal"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def audience_of(resource: str) -> str:
    """`https://storage.azure.com/` and `https://storage.azure.com/.default` name one audience."""
    resource = resource.strip()
    if resource.endswith("/.default"):
        resource = resource[: -len("/.default")]
    return resource.rstrip("/")


class IdentityEndpoint:
    """Serves tokens to containers on `bind:port` (0.0.0.0 so bridge-networked revisions reach it
    through the host gateway; the header secret is what authorises a request)."""

    def __init__(self, state_dir: Path, issuer: Any, bind: str = "0.0.0.0", port: int = 0) -> None:
        secret_path = state_dir / SECRET_FILE
        if not secret_path.exists():
            secret_path.write_bytes(secrets.token_bytes(32))
            secret_path.chmod(0o600)
        self._key = secret_path.read_bytes()
        self.issuer = issuer
        self.server = ThreadingHTTPServer((bind, port), _Handler)
        self.server.daemon_threads = True
        self.server.endpoint = self  # type: ignore[attr-defined]
        self.thread = threading.Thread(
            target=self.server.serve_forever,
            kwargs={"poll_interval": 0.2},
            name="sandbox-identity",
            daemon=True,
        )
        self.thread.start()

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def env_for(self, identity: ManagedIdentity, owner: str, host: str = "127.0.0.1") -> dict[str, str]:
        """The variables a container of `owner` (an app or job with `identity`) gets."""
        return {
            "IDENTITY_ENDPOINT": f"http://{host}:{self.port}{PATH}",
            "IDENTITY_HEADER": self.header_for(identity),
        }

    def header_for(self, identity: ManagedIdentity) -> str:
        payload = _b64(
            json.dumps(
                {"oid": identity.principal_id, "mirid": identity.resource_id, "tid": identity.tenant_id},
                sort_keys=True,
            ).encode()
        )
        return f"{payload}.{self._sign(payload)}"

    def identity_of(self, header: str) -> ManagedIdentity | None:
        payload, _, signature = header.partition(".")
        if not payload or not hmac.compare_digest(self._sign(payload), signature):
            return None
        try:
            claims = json.loads(_unb64(payload))
            return ManagedIdentity(claims["oid"], claims["mirid"], claims["tid"])
        except (ValueError, KeyError, json.JSONDecodeError):
            return None

    def token_for(self, identity: ManagedIdentity, resource: str) -> dict[str, Any]:
        audience = audience_of(resource)
        token, expires_on = self.issuer.issue(
            {
                "aud": audience,
                "tid": identity.tenant_id,
                "oid": identity.principal_id,
                "sub": identity.principal_id,
                "xms_mirid": identity.resource_id,
                "idtyp": "app",
            },
            ttl_seconds=TOKEN_TTL,
        )
        return {
            "access_token": token,
            "expires_on": str(expires_on),
            "resource": resource,
            "token_type": "Bearer",
            "client_id": identity.principal_id,
        }

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _sign(self, payload: str) -> str:
        return _b64(hmac.new(self._key, f"identity-header:{payload}".encode(), hashlib.sha256).digest())


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("identity %s", format % args)

    def do_GET(self) -> None:
        endpoint: IdentityEndpoint = self.server.endpoint  # type: ignore[attr-defined]
        url = urlsplit(self.path)
        query = dict(parse_qsl(url.query))
        if url.path != PATH:
            return self._send(404, {"error": "not_found", "error_description": f"no route {url.path}"})
        identity = endpoint.identity_of(self.headers.get("X-IDENTITY-HEADER", ""))
        if identity is None:
            return self._send(
                401,
                {"error": "unauthorized", "error_description": "X-IDENTITY-HEADER is missing or not valid"},
            )
        if query.get("api-version") != API_VERSION:
            return self._send(
                400, {"error": "invalid_request", "error_description": f"api-version must be {API_VERSION}"}
            )
        if not query.get("resource"):
            return self._send(400, {"error": "invalid_request", "error_description": "resource is required"})
        self._send(200, endpoint.token_for(identity, query["resource"]))

    def _send(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
