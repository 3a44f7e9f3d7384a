"""The stand-in's Key Vault: the secrets data plane azure-keyvault-secrets' SecretClient speaks, and
the lookup Container Apps does when a revision starts (`configuration.secrets[].keyVaultUrl`).

Each vault (a `Microsoft.KeyVault/vaults` resource a template declared) is served on its own HTTPS
port, at the root of `https://127.0.0.1:PORT/` — its `vaultUri` — because the SDK parses secret ids as
`<vault>/secrets/<name>[/<version>]` and a path prefix would break that. Authentication is the SDK's
challenge flow: an unauthenticated request gets `401` with `WWW-Authenticate: Bearer
authorization="<authority>/<tenant>", resource="https://vault.azure.net"`, the client fetches a token
for `https://vault.azure.net/.default` from the stand-in's Entra endpoint and retries. The resource
does not match the 127.0.0.1 host, so clients pass `verify_challenge_resource=False` (see
docs/sandbox-keyvault-differences.md). Secrets persist in `<state>/keyvault.json`. stdlib only."""

from __future__ import annotations

import json
import logging
import re
import ssl
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from .tls_server import TLSThreadingHTTPServer

log = logging.getLogger("genaiops.sandbox.keyvault")

VAULT_AUDIENCE = "https://vault.azure.net"
STATE_FILE = "keyvault.json"
AZURE_SUFFIX = ".vault.azure.net"
SECRET_NAME = re.compile(r"^[0-9A-Za-z-]{1,127}$")
VERSION = re.compile(r"^[0-9A-Za-z]{1,64}$")
MAX_VALUE = 25 * 1024  # Key Vault's limit on a secret value (25 KB)
RECOVERY_LEVEL = "Recoverable+Purgeable"


class VaultError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass(frozen=True)
class Lookup:
    """What a keyVaultUrl resolved to: the value, or why not (Azure-like wording)."""

    value: str | None
    problem: str | None = None


class VaultService:
    """Every vault of the stand-in: their secrets (persisted) and one HTTPS listener per vault."""

    def __init__(self, state_dir: Path, tls_dir: Path, issuer: Any, authority: str, tenant_id: str) -> None:
        from .ca import issue_server_cert

        self.path = state_dir / STATE_FILE
        self.issuer = issuer
        self.authority = authority.rstrip("/")
        self.tenant_id = tenant_id
        self.lock = threading.RLock()
        self.data: dict[str, Any] = json.loads(self.path.read_text()) if self.path.exists() else {}
        cert = issue_server_cert(tls_dir, "keyvault", ["127.0.0.1", "localhost"])
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(str(cert.cert), str(cert.key))
        self.servers: dict[str, _VaultServer] = {}

    # vaults ---------------------------------------------------------------------------------------
    def ensure(self, name: str) -> str:
        """The vault's URI (`https://127.0.0.1:PORT/`), its listener started (on the port it had)."""
        name = name.lower()
        with self.lock:
            vault = self.data.setdefault(name, {"port": 0, "secrets": {}})
            server = self.servers.get(name)
            if server is None:
                try:
                    server = _VaultServer(self, name, self.context, int(vault.get("port") or 0))
                except OSError:  # the remembered port was taken meanwhile
                    server = _VaultServer(self, name, self.context, 0)
                threading.Thread(
                    target=server.serve_forever,
                    kwargs={"poll_interval": 0.2},
                    name=f"sandbox-keyvault-{name}",
                    daemon=True,
                ).start()
                self.servers[name] = server
                vault["port"] = int(server.server_address[1])
                self._save()
            return f"https://127.0.0.1:{vault['port']}/"

    def close(self) -> None:
        for server in list(self.servers.values()):
            server.shutdown()
            server.server_close()
        self.servers.clear()

    def _save(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.data, indent=1, sort_keys=True))
        tmp.chmod(0o600)
        tmp.replace(self.path)

    def vault_name(self, url: str) -> str | None:
        """The name of the vault a secret URL points at (either address form), or None."""
        return self._vault_by_url(url)

    def _vault_by_url(self, url: str) -> str | None:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        if host.endswith(AZURE_SUFFIX):
            name = host[: -len(AZURE_SUFFIX)]
            return name if name in self.data else None
        for name, vault in self.data.items():
            if host in ("127.0.0.1", "localhost") and parts.port == vault.get("port"):
                return name
        return None

    # secrets --------------------------------------------------------------------------------------
    def set_secret(self, vault: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
        value = body.get("value")
        if not isinstance(value, str):
            raise VaultError(400, "BadParameter", "The parameter 'value' is required.")
        if len(value.encode()) > MAX_VALUE:
            raise VaultError(400, "BadParameter", "The secret value exceeds the maximum size of 25 KB.")
        now = int(time.time())
        attributes = dict(body.get("attributes") or {})
        version = {
            "version": uuid.uuid4().hex,
            "value": value,
            "contentType": body.get("contentType"),
            "tags": body.get("tags"),
            "attributes": {
                "enabled": attributes.get("enabled", True),
                "nbf": attributes.get("nbf"),
                "exp": attributes.get("exp"),
                "created": now,
                "updated": now,
            },
        }
        with self.lock:
            self.data[vault]["secrets"].setdefault(name.lower(), {"name": name, "versions": []})[
                "versions"
            ].append(version)
            self._save()
        return self._bundle(vault, name, version)

    def _versions(self, vault: str, name: str) -> tuple[str, list[dict[str, Any]]]:
        found = self.data[vault]["secrets"].get(name.lower())
        if not found or not found["versions"]:
            raise VaultError(
                404,
                "SecretNotFound",
                f"A secret with (name/id) {name} was not found in this key vault. If you recently deleted "
                "this secret you may be able to recover it using the correct recovery command. For help "
                "resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182",
            )
        return found["name"], found["versions"]

    def get_secret(self, vault: str, name: str, version: str | None) -> dict[str, Any]:
        with self.lock:
            stored_name, versions = self._versions(vault, name)
            if not version:
                return self._bundle(vault, stored_name, versions[-1])
            for v in versions:
                if v["version"].lower() == version.lower():
                    return self._bundle(vault, stored_name, v)
        raise VaultError(
            404,
            "SecretNotFound",
            f"A secret with (name/id) {name}/{version} was not found in this key vault.",
        )

    def list_versions(self, vault: str, name: str) -> dict[str, Any]:
        with self.lock:
            stored_name, versions = self._versions(vault, name)
            items = [self._item(vault, stored_name, v, with_version=True) for v in versions]
        return {"value": items, "nextLink": None}

    def list_secrets(self, vault: str) -> dict[str, Any]:
        with self.lock:
            items = [
                self._item(vault, s["name"], s["versions"][-1], with_version=False)
                for s in self.data[vault]["secrets"].values()
                if s["versions"]
            ]
        return {"value": items, "nextLink": None}

    def _base(self, vault: str) -> str:
        return f"https://127.0.0.1:{self.data[vault]['port']}"

    def _item(self, vault: str, name: str, version: dict[str, Any], with_version: bool) -> dict[str, Any]:
        sid = f"{self._base(vault)}/secrets/{name}" + (f"/{version['version']}" if with_version else "")
        item: dict[str, Any] = {"id": sid, "attributes": self._attributes(version)}
        if version.get("contentType"):
            item["contentType"] = version["contentType"]
        if version.get("tags"):
            item["tags"] = version["tags"]
        return item

    def _bundle(self, vault: str, name: str, version: dict[str, Any]) -> dict[str, Any]:
        bundle = self._item(vault, name, version, with_version=True)
        bundle["value"] = version["value"]
        return bundle

    @staticmethod
    def _attributes(version: dict[str, Any]) -> dict[str, Any]:
        attributes = {k: v for k, v in version["attributes"].items() if v is not None}
        attributes.update(recoveryLevel=RECOVERY_LEVEL, recoverableDays=90)
        return attributes

    # what Container Apps does at revision start ---------------------------------------------------
    def resolve(self, url: str) -> Lookup:
        """The value a `keyVaultUrl` names (latest version unless the URL pins one)."""
        vault = self._vault_by_url(url)
        if vault is None:
            return Lookup(None, f"the key vault of {url} does not exist")
        parts = [p for p in urlsplit(url).path.split("/") if p]
        if len(parts) not in (2, 3) or parts[0] != "secrets":
            return Lookup(None, f"{url} is not a Key Vault secret URL")
        try:
            bundle = self.get_secret(vault, parts[1], parts[2] if len(parts) == 3 else None)
        except VaultError as exc:
            return Lookup(None, exc.message.split(". ")[0])
        if not bundle["attributes"].get("enabled", True):
            return Lookup(None, f"the secret {parts[1]} is disabled")
        return Lookup(bundle["value"])


class _VaultServer(TLSThreadingHTTPServer):
    allow_reuse_address = True

    def __init__(self, service: VaultService, vault: str, context: ssl.SSLContext, port: int) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.service = service
        self.vault = vault
        self.ssl_context = context


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _VaultServer
    server_version = "genaiops-sandbox-keyvault"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.command, self.path.split("?", 1)[0])  # never the body: it holds values

    def do_GET(self) -> None:
        self._handle()

    do_PUT = do_POST = do_PATCH = do_DELETE = do_GET

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        split = urlsplit(self.path)
        parts = [unquote(p) for p in split.path.split("/") if p]
        query = dict(parse_qsl(split.query))
        try:
            if not query.get("api-version"):
                raise VaultError(400, "BadParameter", "The 'api-version' query parameter is missing.")
            self._authorize()
            status, body = self._route(parts, raw)
        except VaultError as exc:
            status, body = exc.status, {"error": {"code": exc.code, "message": exc.message}}
        self._reply(status, body)

    def _authorize(self) -> None:
        header = self.headers.get("Authorization") or ""
        scheme, _, token = header.partition(" ")
        claims = self.server.service.issuer.verify(token.strip()) if scheme.lower() == "bearer" else None
        if claims is None or claims.get("aud") not in (VAULT_AUDIENCE, VAULT_AUDIENCE + "/"):
            raise _Challenge()

    def _route(self, parts: list[str], raw: bytes) -> tuple[int, dict[str, Any]]:
        service, vault = self.server.service, self.server.vault
        if not parts or parts[0] != "secrets":
            raise VaultError(404, "NotFound", f"No route {self.command} /{'/'.join(parts)}.")
        if len(parts) == 1 and self.command == "GET":
            return 200, service.list_secrets(vault)
        name = parts[1]
        if not SECRET_NAME.match(name):
            raise VaultError(
                400,
                "BadParameter",
                "The request URI contains an invalid name: " + name + ". Follow this link for more "
                "information on appropriate naming conventions: https://aka.ms/azure-naming",
            )
        if len(parts) == 2 and self.command == "PUT":
            try:
                body = json.loads(raw or b"{}")
            except json.JSONDecodeError:
                raise VaultError(400, "BadParameter", "The request body is not valid JSON.") from None
            return 200, service.set_secret(vault, name, body if isinstance(body, dict) else {})
        if len(parts) == 2 and self.command == "GET":
            return 200, service.get_secret(vault, name, None)
        if len(parts) == 3 and parts[2] == "versions" and self.command == "GET":
            return 200, service.list_versions(vault, name)
        if len(parts) == 3 and self.command == "GET" and VERSION.match(parts[2]):
            return 200, service.get_secret(vault, name, parts[2])
        raise VaultError(405, "MethodNotAllowed", f"{self.command} is not served for this path.")

    def _reply(self, status: int, body: dict[str, Any] | None) -> None:
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-ms-request-id", str(uuid.uuid4()))
        self.send_header("x-ms-keyvault-service-version", "1.9.0.0")
        if status == 401:
            service = self.server.service
            self.send_header(
                "WWW-Authenticate",
                f'Bearer authorization="{service.authority}/{service.tenant_id}", '
                f'resource="{VAULT_AUDIENCE}"',
            )
        self.end_headers()
        if data:
            self.wfile.write(data)


class _Challenge(VaultError):
    def __init__(self) -> None:
        super().__init__(401, "Unauthorized", "AKV10000: Request is missing a Bearer or PoP token.")
