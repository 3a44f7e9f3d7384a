"""The ACR-shaped HTTPS front of one stand-in registry.

It sits before a real CNCF distribution process (the backend, no auth of its own, loopback only)
and adds what makes it look like Azure Container Registry to the clients genaiops uses
(azure-containerregistry, docker, skopeo):

- ACR's token dance: anonymous → 401 `WWW-Authenticate: Bearer realm=…/oauth2/token,service=…,scope=…`;
  `/oauth2/exchange` swaps an Entra token for a registry refresh token; `/oauth2/token` swaps a refresh
  token (form field, or Basic auth with the 00000000-… user as `docker login` sends it) for a scoped
  access token. All tokens come from the stand-in's one TokenIssuer.
- the `/acr/v1/` metadata routes (catalog, tags, manifests, repository, with changeable attributes),
  read from the backend's /v2 API and its storage folder (distribution has no listing API for
  manifests and no tag delete), attributes kept in a small JSON store;
- `writeEnabled` / `deleteEnabled` locks enforced on the /v2 write paths;
- everything else under /v2/ streamed to the backend unchanged.

A request log per registry (`GET /sandbox/requests`) lets benchmarks count registry round trips."""

from __future__ import annotations

import base64
import collections
import datetime as dt
import hashlib
import http.client
import json
import shutil
import socket
import ssl
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from genaiops_sandbox.faults import FaultTable, drop_connection, lose_answer
from genaiops_sandbox.tls_server import TLSThreadingHTTPServer
from genaiops_sandbox.tokens import TokenIssuer

ACR_USER = "00000000-0000-0000-0000-000000000000"
# Audiences an Entra token may carry to be exchanged at /oauth2/exchange: azure-containerregistry asks
# for https://containerregistry.azure.net/.default by default; `az acr login` uses the ARM audience.
ENTRA_AUDIENCES = {
    "https://containerregistry.azure.net",
    "https://management.azure.com",
    "https://management.core.windows.net",
}
REFRESH_TTL = 3 * 3600  # ACR refresh tokens live about 3 hours
ACCESS_TTL = 75 * 60  # ACR access tokens live about 75 minutes
MANIFEST_ACCEPT = ", ".join(
    [
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.oci.artifact.manifest.v1+json",
    ]
)
INDEX_TYPES = {
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.index.v1+json",
}
DISALLOWED = "The operation is disallowed on this registry, repository or image."
_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailers",
    "transfer-encoding",
    "upgrade",
    "host",
    "authorization",
    "content-length",
}
_CHUNK = 256 * 1024
_DRAIN_LIMIT = 8 * 1024 * 1024


def _now_iso(ts: float | None = None) -> str:
    moment = dt.datetime.fromtimestamp(ts if ts is not None else time.time(), dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def manifest_digest(raw: bytes) -> str:
    return "sha256:" + hashlib.sha256(raw).hexdigest()


# --------------------------------------------------------------------------------------------------
# Backend access (plain /v2 over HTTPS to the distribution process) — also used by import_image.


class Backend:
    """Minimal client of the distribution process. One connection per call: loopback TLS with an
    ECDSA key costs about a millisecond, and it keeps threads from sharing sockets."""

    def __init__(self, url: str, ca_file: Path, storage_root: Path) -> None:
        parsed = urllib.parse.urlsplit(url)
        self.url = url
        self.host = parsed.hostname or "127.0.0.1"
        self.port = parsed.port or 443
        self.storage_root = storage_root
        self._ssl = ssl.create_default_context(cafile=str(ca_file))

    def connect(self, timeout: float = 300.0) -> http.client.HTTPSConnection:
        return http.client.HTTPSConnection(self.host, self.port, context=self._ssl, timeout=timeout)

    def request(
        self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        conn = self.connect()
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
        finally:
            conn.close()

    def get_manifest(self, repo: str, ref: str) -> tuple[bytes, str, str] | None:
        """(raw bytes, media type, digest) exactly as stored, or None."""
        status, headers, data = self.request(
            "GET", f"/v2/{repo}/manifests/{ref}", headers={"Accept": MANIFEST_ACCEPT}
        )
        if status != 200:
            return None
        return (
            data,
            headers.get("content-type", ""),
            headers.get("docker-content-digest") or manifest_digest(data),
        )

    def head_manifest(self, repo: str, ref: str) -> str | None:
        status, headers, _ = self.request(
            "HEAD", f"/v2/{repo}/manifests/{ref}", headers={"Accept": MANIFEST_ACCEPT}
        )
        return headers.get("docker-content-digest") if status == 200 else None

    # ---- the storage folder, for what the /v2 API cannot answer (listing manifests, deleting tags)

    def _repos_dir(self) -> Path:
        return self.storage_root / "docker" / "registry" / "v2" / "repositories"

    def repositories(self) -> list[str]:
        root = self._repos_dir()
        if not root.exists():
            return []
        found = []
        for manifests_dir in root.rglob("_manifests"):
            repo = manifests_dir.parent.relative_to(root).as_posix()
            if self.manifest_digests(repo):
                found.append(repo)
        return sorted(found)

    def manifest_digests(self, repo: str) -> list[str]:
        revisions = self._repos_dir() / repo / "_manifests" / "revisions" / "sha256"
        if not revisions.exists():
            return []
        return sorted(f"sha256:{d.name}" for d in revisions.iterdir() if (d / "link").exists())

    def manifest_time(self, repo: str, digest: str) -> float:
        link = (
            self._repos_dir()
            / repo
            / "_manifests"
            / "revisions"
            / "sha256"
            / digest.split(":", 1)[1]
            / "link"
        )
        try:
            return link.stat().st_mtime
        except OSError:
            return time.time()

    def tags(self, repo: str) -> dict[str, str]:
        """tag → digest, from the tag links distribution itself writes and reads."""
        tags_dir = self._repos_dir() / repo / "_manifests" / "tags"
        out: dict[str, str] = {}
        if not tags_dir.exists():
            return out
        for tag_dir in tags_dir.iterdir():
            link = tag_dir / "current" / "link"
            if link.exists():
                out[tag_dir.name] = link.read_text().strip()
        return out

    def tag_times(self, repo: str, tag: str) -> tuple[float, float]:
        tag_dir = self._repos_dir() / repo / "_manifests" / "tags" / tag
        created = (tag_dir / "index").stat().st_mtime if (tag_dir / "index").exists() else time.time()
        updated = (
            (tag_dir / "current" / "link").stat().st_mtime if (tag_dir / "current").exists() else created
        )
        return min(created, updated), updated

    def remove_tag(self, repo: str, tag: str) -> bool:
        """Distribution 2.8 has no tag DELETE on its API; Untag removes exactly this folder."""
        tag_dir = self._repos_dir() / repo / "_manifests" / "tags" / tag
        if not tag_dir.exists():
            return False
        shutil.rmtree(tag_dir)
        return True

    def remove_repository(self, repo: str) -> bool:
        repo_dir = self._repos_dir() / repo
        if not repo_dir.exists():
            return False
        shutil.rmtree(repo_dir)
        return True


# --------------------------------------------------------------------------------------------------
# Changeable attributes (ACR's locks), persisted per registry.

_DEFAULT_ATTRS = {"deleteEnabled": True, "writeEnabled": True, "listEnabled": True, "readEnabled": True}


class PropertiesStore:
    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._data: dict[str, dict[str, dict[str, bool]]] = {"repositories": {}, "tags": {}, "manifests": {}}
        if path.exists():
            self._data.update(json.loads(path.read_text()))

    @staticmethod
    def _key(kind: str, repo: str, ref: str) -> str:
        return repo if kind == "repositories" else f"{repo}{'@' if kind == 'manifests' else ':'}{ref}"

    def get(self, kind: str, repo: str, ref: str = "") -> dict[str, bool]:
        with self._lock:
            return {**_DEFAULT_ATTRS, **self._data[kind].get(self._key(kind, repo, ref), {})}

    def update(self, kind: str, repo: str, ref: str, changes: dict[str, Any]) -> dict[str, bool]:
        allowed = {k: bool(v) for k, v in changes.items() if k in _DEFAULT_ATTRS and v is not None}
        with self._lock:
            key = self._key(kind, repo, ref)
            merged = {**_DEFAULT_ATTRS, **self._data[kind].get(key, {}), **allowed}
            self._data[kind][key] = merged
            self._save()
            return dict(merged)

    def forget(self, kind: str, repo: str, ref: str = "") -> None:
        with self._lock:
            if kind == "repositories":
                for k in ("tags", "manifests"):
                    self._data[k] = {
                        key: v
                        for key, v in self._data[k].items()
                        if not key.startswith((f"{repo}:", f"{repo}@"))
                    }
            self._data[kind].pop(self._key(kind, repo, ref), None)
            self._save()

    def _save(self) -> None:
        tmp = self._path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self._data, indent=1, sort_keys=True))
        tmp.replace(self._path)


# --------------------------------------------------------------------------------------------------
# The front itself.


@dataclass
class RequestRecord:
    ts: float
    method: str
    path: str
    status: int
    via: str = "front"  # "front" for HTTP clients, "import" for server-side copies

    def to_dict(self) -> dict[str, Any]:
        return {
            "ts": self.ts,
            "method": self.method,
            "path": self.path,
            "status": self.status,
            "via": self.via,
        }


class RequestLog:
    def __init__(self, maxlen: int = 20000) -> None:
        self._items: collections.deque[RequestRecord] = collections.deque(maxlen=maxlen)
        self._lock = threading.Lock()

    def add(self, method: str, path: str, status: int, via: str = "front") -> None:
        with self._lock:
            self._items.append(RequestRecord(time.time(), method, path, status, via))

    def items(self) -> list[RequestRecord]:
        with self._lock:
            return list(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


@dataclass(frozen=True)
class Scope:
    type: str
    name: str
    actions: tuple[str, ...]

    @classmethod
    def parse(cls, text: str) -> Scope | None:
        kind, _, rest = text.partition(":")
        name, _, actions = rest.rpartition(":")
        if not kind or not name:
            return None
        return cls(kind, name, tuple(a for a in actions.split(",") if a))

    def to_claim(self) -> dict[str, Any]:
        return {"type": self.type, "name": self.name, "actions": list(self.actions)}


class _TLSThreadingServer(TLSThreadingHTTPServer):
    request_queue_size = 64
    handshake_timeout = None  # blob uploads stream for as long as they take

    def __init__(self, addr: tuple[str, int], handler: type, ssl_context: ssl.SSLContext, front: AcrFront):
        self.ssl_context = ssl_context
        self.front = front
        super().__init__(addr, handler)


class AcrFront:
    def __init__(
        self,
        *,
        name: str,
        port: int,
        backend: Backend,
        store: PropertiesStore,
        tokens: TokenIssuer,
        cert_file: Path,
        key_file: Path,
        log: RequestLog | None = None,
        host: str = "127.0.0.1",
        faults: FaultTable | None = None,
    ) -> None:
        self.name = name
        self.faults = faults  # the stand-in's fault table (tests), service `registry`
        self.host = host
        self.port = port
        self.backend = backend
        self.store = store
        self.tokens = tokens
        self.log = log or RequestLog()
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(str(cert_file), str(key_file))
        self._server = _TLSThreadingServer((host, port), _Handler, ctx, self)
        self.port = self._server.server_address[1]
        self._thread: threading.Thread | None = None

    @property
    def login_server(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._server.serve_forever, name=f"acr-front-{self.name}", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread:
            self._thread.join(timeout=5)

    # ---- tokens

    def mint_refresh_token(self, subject: str, ttl: int = REFRESH_TTL) -> str:
        token, _ = self.tokens.issue(
            {"aud": self.login_server, "grant_type": "refresh_token", "sub": subject}, ttl_seconds=ttl
        )
        return token

    def mint_access_token(self, subject: str, scopes: list[Scope]) -> str:
        token, _ = self.tokens.issue(
            {
                "aud": self.login_server,
                "grant_type": "access_token",
                "sub": subject,
                "access": [s.to_claim() for s in scopes],
            },
            ttl_seconds=ACCESS_TTL,
        )
        return token

    def verify_refresh_token(self, token: str) -> dict[str, Any] | None:
        claims = self.tokens.verify(token, audience=self.login_server)
        return claims if claims and claims.get("grant_type") == "refresh_token" else None

    def allowed(self, token: str, scope: Scope | None) -> bool:
        claims = self.tokens.verify(token, audience=self.login_server)
        if not claims or claims.get("grant_type") != "access_token":
            return False
        if scope is None:  # /v2/ itself: any valid token
            return True
        for grant in claims.get("access", []):
            if grant.get("type") == scope.type and grant.get("name") == scope.name:
                granted = set(grant.get("actions", []))
                if "*" in granted or set(scope.actions) <= granted:
                    return True
        return False


def _operation(method: str, path: str) -> str:
    """The request kind a fault rule's `operation` matches (faults.OPERATIONS["registry"])."""
    if path == "/oauth2/exchange":
        return "token-exchange"
    if path == "/oauth2/token":
        return "token"
    if path.startswith("/acr/v1/"):
        return "acr-metadata"
    if path in ("/v2", "/v2/"):
        return "ping"
    if path == "/v2/_catalog":
        return "catalog"
    if "/blobs/uploads" in path:
        return "blob-upload"
    verb = {"GET": "get", "HEAD": "head", "PUT": "put", "DELETE": "delete"}.get(method, method.lower())
    for marker, noun in (("/manifests/", "manifest"), ("/blobs/", "blob")):
        if marker in path:
            return f"{noun}-{verb}"
    return "tags" if "/tags/" in path else "other"


def _error_body(code: str, message: str, detail: Any = None) -> bytes:
    err: dict[str, Any] = {"code": code, "message": message}
    if detail is not None:
        err["detail"] = detail
    return json.dumps({"errors": [err]}).encode()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _TLSThreadingServer
    server_version = "genaiops-sandbox-acr"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the request log below is the record; never print tokens from URLs

    @property
    def front(self) -> AcrFront:
        return self.server.front

    # ---- plumbing

    def _send(
        self,
        status: int,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
        content_type: str = "application/json; charset=utf-8",
    ) -> None:
        self._status = status
        self.send_response(status)
        hdrs = {
            "Content-Type": content_type,
            "Docker-Distribution-Api-Version": "registry/2.0",
            **(headers or {}),
        }
        for key, value in hdrs.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        if self._body_unread():
            # Answering without reading what the client sent: drain a small body (closing with unread
            # bytes makes the kernel reset the connection, and the client may lose this response);
            # a large one costs more than a new connection.
            if not self._chunked() and int(self.headers.get("Content-Length") or 0) <= _DRAIN_LIMIT:
                self._read_body()
            else:
                self.send_header("Connection", "close")
                self.close_connection = True
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)

    def _send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(payload).encode(), headers)

    def _body_unread(self) -> bool:
        if getattr(self, "_body_consumed", False):
            return False
        return bool(self.headers.get("Content-Length", "0") not in ("", "0") or self._chunked())

    def _chunked(self) -> bool:
        return "chunked" in self.headers.get("Transfer-Encoding", "").lower()

    def _read_body(self) -> bytes:
        self._body_consumed = True
        if self._chunked():
            return b"".join(self._iter_chunked())
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _iter_chunked(self) -> Iterator[bytes]:
        while True:
            size_line = self.rfile.readline()
            size = int(size_line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return
            data = self.rfile.read(size)
            self.rfile.readline()
            yield data

    def _dispatch(self) -> None:
        self._status = 0
        self._body_consumed = False
        split = urllib.parse.urlsplit(self.path)
        path = urllib.parse.unquote(split.path)
        query = urllib.parse.parse_qs(split.query, keep_blank_values=True)
        try:
            if path == "/sandbox/requests":
                self._sandbox_requests()
            elif self._fault(path):
                pass  # answered (429/500) or dropped by the fault table
            elif path in ("/oauth2/exchange", "/oauth2/token"):
                self._oauth(path, query)
            elif path.startswith("/acr/v1/"):
                self._acr(path, query)
            elif path == "/v2" or path.startswith("/v2/"):
                self._v2(path, split.query)
            else:
                self._send(404, _error_body("NOT_FOUND", "the requested resource was not found"))
        except (ConnectionError, ssl.SSLError, TimeoutError):
            self.close_connection = True
            self._status = self._status or 499
        except Exception as exc:  # a bug here must answer 500, not hang the client
            if not self._status:
                self._send(
                    500, _error_body("UNKNOWN", f"internal error in the sandbox registry front: {exc!r}")
                )
        finally:
            if path != "/sandbox/requests":
                self.front.log.add(self.command, path, self._status or 0)

    do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = _dispatch

    # ---- faults (tests)

    def _fault(self, path: str) -> bool:
        """Apply the stand-in's fault table (service `registry`, path `/<name><path>`); True when the
        request was answered or dropped here. ACR throttles with 429 TOOMANYREQUESTS + Retry-After."""
        faults = self.front.faults
        if faults is None:
            return False
        fault = faults.take(
            self.command, f"/{self.front.name}{path}", "registry", _operation(self.command, path)
        )
        if fault is None:
            return False
        if fault.kind == "drop":
            self._status = 499
            drop_connection(self)
            return True
        if fault.kind == "drop_after":
            lose_answer(self)
        elif fault.kind == "latency":
            time.sleep(fault.latency_ms / 1000)
        elif fault.kind == "429":
            message = "Too many requests (sandbox fault)."
            self._send(429, _error_body("TOOMANYREQUESTS", message), {"Retry-After": str(fault.retry_after)})
            return True
        elif fault.kind == "500":
            self._send(500, _error_body("UNKNOWN", "An internal error occurred (sandbox fault)."))
            return True
        return False

    # ---- admin

    def _sandbox_requests(self) -> None:
        if self.command == "DELETE":
            self.front.log.clear()
            self._send(204)
            return
        self._send_json(
            200, {"registry": self.front.name, "requests": [r.to_dict() for r in self.front.log.items()]}
        )

    # ---- auth

    def _challenge(self, scope: Scope | None) -> None:
        ls = self.front.login_server
        header = f'Bearer realm="https://{ls}/oauth2/token",service="{ls}"'
        detail = None
        if scope is not None:
            header += f',scope="{scope.type}:{scope.name}:{",".join(scope.actions)}"'
            detail = [{"Type": scope.type, "Name": scope.name, "Action": a} for a in scope.actions]
        self._send(
            401,
            _error_body(
                "UNAUTHORIZED",
                "authentication required, visit https://aka.ms/acr/authorization for more information.",
                detail,
            ),
            {"WWW-Authenticate": header},
        )

    def _authorized(self, scope: Scope | None) -> bool:
        auth = self.headers.get("Authorization", "")
        if auth[:7].lower() == "bearer " and self.front.allowed(auth[7:].strip(), scope):
            return True
        self._challenge(scope)
        return False

    def _oauth(self, path: str, query: dict[str, list[str]]) -> None:
        if self.command not in ("GET", "POST") or (path == "/oauth2/exchange" and self.command != "POST"):
            self._send(405, _error_body("UNSUPPORTED", "The operation is unsupported."))
            return
        form = dict(query)
        if self.command == "POST":
            body = self._read_body().decode("utf-8", "replace")
            for key, values in urllib.parse.parse_qs(body, keep_blank_values=True).items():
                form.setdefault(key, []).extend(values)
        first = {k: v[0] for k, v in form.items() if v}
        service = first.get("service", self.front.login_server)
        if service != self.front.login_server:
            self._unauthorized(f"service {service!r} is not this registry")
            return
        if path == "/oauth2/exchange":
            self._exchange(first)
        else:
            self._token(first, form.get("scope", []))

    def _unauthorized(self, message: str) -> None:
        self._send(401, _error_body("UNAUTHORIZED", message))

    def _exchange(self, form: dict[str, str]) -> None:
        grant = form.get("grant_type", "")
        if grant in ("access_token", "access_token_refresh_token"):
            claims = self.front.tokens.verify(form.get("access_token", ""))
            aud = str((claims or {}).get("aud", "")).rstrip("/")
            if not claims or aud not in ENTRA_AUDIENCES:
                self._unauthorized("the access token is invalid or not for Azure Container Registry")
                return
            subject = claims.get("oid") or claims.get("sub") or claims.get("appid") or "unknown"
        elif grant == "refresh_token":
            claims = self.front.verify_refresh_token(form.get("refresh_token", ""))
            if not claims:
                self._unauthorized("the refresh token is invalid or expired")
                return
            subject = claims.get("sub", "unknown")
        else:
            self._send(400, _error_body("UNSUPPORTED", f"grant_type {grant!r} is not supported"))
            return
        self._send_json(200, {"refresh_token": self.front.mint_refresh_token(str(subject))})

    def _token(self, form: dict[str, str], scope_texts: list[str]) -> None:
        grant = form.get("grant_type", "")
        refresh = ""
        if grant == "refresh_token":
            refresh = form.get("refresh_token", "")
        elif grant == "password":
            refresh = form.get("password", "") if form.get("username") == ACR_USER else ""
        else:
            basic = self.headers.get("Authorization", "")
            if basic[:6].lower() == "basic ":
                user, _, password = (
                    base64.b64decode(basic[6:].strip()).decode("utf-8", "replace").partition(":")
                )
                refresh = password if user == ACR_USER else ""
        claims = self.front.verify_refresh_token(refresh) if refresh else None
        if not claims:
            self._unauthorized(
                "authentication required, visit https://aka.ms/acr/authorization for more information."
            )
            return
        scopes = [s for text in scope_texts for part in text.split(" ") if (s := Scope.parse(part))]
        payload: dict[str, Any] = {
            "access_token": self.front.mint_access_token(claims.get("sub", "unknown"), scopes)
        }
        if grant == "password" and form.get("access_type") == "offline":
            payload["refresh_token"] = refresh  # docker keeps it as its identity token
        self._send_json(200, payload)

    # ---- /v2 proxy with lock enforcement

    @staticmethod
    def _split_v2(path: str) -> tuple[str | None, str, str]:
        """'/v2/a/b/manifests/x' → ('a/b', 'manifests', 'x')."""
        rest = path[len("/v2/") :]
        for marker in ("/manifests/", "/blobs/uploads/", "/blobs/", "/tags/"):
            idx = rest.rfind(marker)
            if idx > 0:
                return rest[:idx], marker.strip("/").split("/")[0], rest[idx + len(marker) :]
        if rest.endswith("/blobs/uploads"):
            return rest[: -len("/blobs/uploads")], "blobs", ""
        return None, "", rest

    def _v2(self, path: str, raw_query: str) -> None:
        if path in ("/v2", "/v2/"):
            if self._authorized(None):
                self._proxy("/v2/", raw_query)
            return
        if path == "/v2/_catalog":
            if self._authorized(Scope("registry", "catalog", ("*",))):
                self._proxy(path, raw_query)
            return
        repo, kind, ref = self._split_v2(path)
        if repo is None:
            self._send(404, _error_body("NAME_UNKNOWN", "repository name not known to registry"))
            return
        action = {"GET": ("pull",), "HEAD": ("pull",), "DELETE": ("delete",)}.get(
            self.command, ("pull", "push")
        )
        if not self._authorized(Scope("repository", repo, action)):
            return
        if kind == "manifests" and not self._locks_allow(repo, ref):
            return
        self._proxy(path, raw_query)

    def _locks_allow(self, repo: str, ref: str) -> bool:
        store = self.front.store
        if self.command == "PUT":
            attrs = [store.get("repositories", repo)]
            if ref.startswith("sha256:"):
                attrs.append(store.get("manifests", repo, ref))
            else:
                attrs.append(store.get("tags", repo, ref))
                current = self.front.backend.tags(repo).get(ref)
                if current:
                    attrs.append(store.get("manifests", repo, current))
            if all(a["writeEnabled"] for a in attrs):
                return True
        elif self.command == "DELETE":
            attrs = [store.get("repositories", repo), store.get("manifests", repo, ref)]
            attrs += [
                store.get("tags", repo, t) for t, d in self.front.backend.tags(repo).items() if d == ref
            ]
            if all(a["deleteEnabled"] for a in attrs):
                return True
        else:
            return True
        self._send(405, _error_body("DENIED", DISALLOWED))
        return False

    def _proxy(self, path: str, raw_query: str) -> None:
        backend = self.front.backend
        target = urllib.parse.quote(path, safe="/:@") + (f"?{raw_query}" if raw_query else "")
        conn = backend.connect()
        try:
            conn.putrequest(self.command, target, skip_host=True, skip_accept_encoding=True)
            conn.putheader("Host", f"{backend.host}:{backend.port}")
            for key, value in self.headers.items():
                if key.lower() not in _HOP_BY_HOP:
                    conn.putheader(key, value)
            chunked = self._chunked()
            length = int(self.headers.get("Content-Length") or 0)
            if chunked:
                conn.putheader("Transfer-Encoding", "chunked")
            elif length or self.command in ("PUT", "POST", "PATCH"):
                conn.putheader("Content-Length", str(length))
            conn.endheaders()
            self._body_consumed = True
            if chunked:
                for piece in self._iter_chunked():
                    conn.send(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
                conn.send(b"0\r\n\r\n")
            else:
                remaining = length
                while remaining > 0:
                    piece = self.rfile.read(min(_CHUNK, remaining))
                    if not piece:
                        raise ConnectionError("client closed during upload")
                    conn.send(piece)
                    remaining -= len(piece)
            resp = conn.getresponse()
            self._relay(resp)
        finally:
            conn.close()

    def _relay(self, resp: http.client.HTTPResponse) -> None:
        self._status = resp.status
        headers = [(k, v) for k, v in resp.getheaders() if k.lower() not in _HOP_BY_HOP]
        backend_origin = self.front.backend.url.rstrip("/")
        headers = [
            (
                k,
                v.replace(backend_origin, f"https://{self.front.login_server}")
                if k.lower() == "location"
                else v,
            )
            for k, v in headers
        ]
        length_header = resp.getheader("Content-Length")
        if self.command == "HEAD" or resp.status in (204, 304):
            body_iter: Iterator[bytes] | None = None
            length = length_header or "0"
        elif length_header is not None:
            body_iter = iter(lambda: resp.read(_CHUNK), b"")
            length = length_header
        else:  # chunked from the backend: buffer so the client always gets a Content-Length
            data = resp.read()
            body_iter = iter([data])
            length = str(len(data))
        self.send_response(resp.status)
        for key, value in headers:
            self.send_header(key, value)
        self.send_header("Content-Length", length)
        self.end_headers()
        if body_iter is not None:
            for piece in body_iter:
                self.wfile.write(piece)
        else:
            resp.read()

    # ---- /acr/v1

    def _acr(self, path: str, query: dict[str, list[str]]) -> None:
        rest = path[len("/acr/v1/") :]
        q = {k: v[0] for k, v in query.items() if v}
        if rest == "_catalog":
            if self.command == "GET" and self._authorized(Scope("registry", "catalog", ("*",))):
                self._catalog(q)
            elif self.command != "GET":
                self._send(405, _error_body("UNSUPPORTED", "The operation is unsupported."))
            return
        repo, sub, ref = rest, "", ""
        for marker in ("/_tags", "/_manifests"):
            idx = rest.rfind(marker)
            if idx > 0 and (len(rest) == idx + len(marker) or rest[idx + len(marker)] == "/"):
                repo, sub, ref = rest[:idx], marker[1:], rest[idx + len(marker) + 1 :]
                break
        action = {"GET": "metadata_read", "PATCH": "metadata_write", "DELETE": "delete"}.get(self.command)
        if action is None:
            self._send(405, _error_body("UNSUPPORTED", "The operation is unsupported."))
            return
        if not self._authorized(Scope("repository", repo, (action,))):
            return
        view = _AcrView(self.front, repo)
        if not view.exists():
            self._send(
                404, _error_body("NAME_UNKNOWN", "repository name not known to registry", {"name": repo})
            )
            return
        if sub == "":
            self._repository(view)
        elif sub == "_tags" and not ref:
            self._tags(view, q) if self.command == "GET" else self._unsupported()
        elif sub == "_tags":
            self._tag(view, ref)
        elif sub == "_manifests" and not ref:
            self._manifests(view, q) if self.command == "GET" else self._unsupported()
        else:
            self._manifest(view, ref)

    def _unsupported(self) -> None:
        self._send(405, _error_body("UNSUPPORTED", "The operation is unsupported."))

    def _patch_body(self) -> dict[str, Any]:
        raw = self._read_body()
        try:
            body = json.loads(raw or b"{}")
        except json.JSONDecodeError:
            body = {}
        return body if isinstance(body, dict) else {}

    def _catalog(self, q: dict[str, str]) -> None:
        repos = [
            r
            for r in self.front.backend.repositories()
            if self.front.store.get("repositories", r)["listEnabled"]
        ]
        page, link = _paginate(repos, q, lambda r: r, "/acr/v1/_catalog")
        self._send_json(200, {"repositories": page}, {"Link": link} if link else None)

    def _repository(self, view: _AcrView) -> None:
        store = self.front.store
        if self.command == "DELETE":
            if not store.get("repositories", view.repo)["deleteEnabled"]:
                self._send(405, _error_body("DENIED", DISALLOWED))
                return
            deleted = {"manifestsDeleted": view.digests(), "tagsDeleted": sorted(view.tags())}
            self.front.backend.remove_repository(view.repo)
            store.forget("repositories", view.repo)
            self._send_json(202, deleted)
            return
        if self.command == "PATCH":
            store.update("repositories", view.repo, "", self._patch_body())
        self._send_json(200, view.repository_properties())

    def _tags(self, view: _AcrView, q: dict[str, str]) -> None:
        items = [
            view.tag_attributes(t, d)
            for t, d in view.tags().items()
            if not q.get("digest") or d == q["digest"]
        ]
        items = [i for i in items if i["changeableAttributes"]["listEnabled"]]
        page, link = _paginate(items, q, lambda i: i["name"], f"/acr/v1/{view.repo}/_tags")
        self._send_json(
            200,
            {"registry": self.front.login_server, "imageName": view.repo, "tags": page},
            {"Link": link} if link else None,
        )

    def _tag(self, view: _AcrView, tag: str) -> None:
        digest = view.tags().get(tag)
        if digest is None:
            self._send(404, _error_body("TAG_UNKNOWN", "the specified tag does not exist", {"tag": tag}))
            return
        store = self.front.store
        if self.command == "DELETE":
            if not (
                store.get("tags", view.repo, tag)["deleteEnabled"]
                and store.get("repositories", view.repo)["deleteEnabled"]
            ):
                self._send(405, _error_body("DENIED", DISALLOWED))
                return
            self.front.backend.remove_tag(view.repo, tag)
            store.forget("tags", view.repo, tag)
            self._send(202)
            return
        if self.command == "PATCH":
            store.update("tags", view.repo, tag, self._patch_body())
        self._send_json(
            200,
            {
                "registry": self.front.login_server,
                "imageName": view.repo,
                "tag": view.tag_attributes(tag, digest),
            },
        )

    def _manifests(self, view: _AcrView, q: dict[str, str]) -> None:
        items = [view.manifest_attributes(d) for d in view.digests()]
        items = [i for i in items if i["changeableAttributes"]["listEnabled"]]
        order = q.get("orderby", "")
        if order in ("timedesc", "timeasc"):
            items.sort(key=lambda i: i["lastUpdateTime"], reverse=order == "timedesc")
        page, link = _paginate(
            items, q, lambda i: i["digest"], f"/acr/v1/{view.repo}/_manifests", keep_order=bool(order)
        )
        self._send_json(
            200,
            {"registry": self.front.login_server, "imageName": view.repo, "manifests": page},
            {"Link": link} if link else None,
        )

    def _manifest(self, view: _AcrView, ref: str) -> None:
        digest = ref if ref.startswith("sha256:") else view.tags().get(ref)
        if not digest or digest not in view.digests():
            self._send(404, _error_body("MANIFEST_UNKNOWN", "manifest unknown", {"digest": ref}))
            return
        if self.command == "PATCH":
            self.front.store.update("manifests", view.repo, digest, self._patch_body())
        elif self.command != "GET":
            self._unsupported()
            return
        self._send_json(
            200,
            {
                "registry": self.front.login_server,
                "imageName": view.repo,
                "manifest": view.manifest_attributes(digest),
            },
        )


def _paginate(
    items: list[Any], q: dict[str, str], key: Callable[[Any], str], base: str, keep_order: bool = False
) -> tuple[list[Any], str | None]:
    if not keep_order:
        items = sorted(items, key=key)
    last = q.get("last")
    if last is not None:
        keys = [key(i) for i in items]
        items = items[keys.index(last) + 1 :] if last in keys else [i for i in items if key(i) > last]
    n = int(q["n"]) if q.get("n", "").isdigit() else 0
    if n and len(items) > n:
        page = items[:n]
        extra = {k: v for k, v in q.items() if k not in ("last", "n")}
        params = urllib.parse.urlencode({"last": key(page[-1]), "n": n, **extra})
        return page, f'<{base}?{params}>; rel="next"'
    return items, None


class _AcrView:
    """One repository as ACR describes it, computed from the backend on each request."""

    _manifest_cache: dict[str, dict[str, Any]] = {}  # digest → immutable facts (content-addressed)
    _cache_lock = threading.Lock()

    def __init__(self, front: AcrFront, repo: str) -> None:
        self.front = front
        self.repo = repo
        self._tags: dict[str, str] | None = None

    def exists(self) -> bool:
        return bool(self.front.backend.manifest_digests(self.repo))

    def tags(self) -> dict[str, str]:
        if self._tags is None:
            self._tags = self.front.backend.tags(self.repo)
        return self._tags

    def digests(self) -> list[str]:
        return self.front.backend.manifest_digests(self.repo)

    def repository_properties(self) -> dict[str, Any]:
        digests = self.digests()
        times = [self.front.backend.manifest_time(self.repo, d) for d in digests] or [time.time()]
        return {
            "registry": self.front.login_server,
            "imageName": self.repo,
            "createdTime": _now_iso(min(times)),
            "lastUpdateTime": _now_iso(max(times)),
            "manifestCount": len(digests),
            "tagCount": len(self.tags()),
            "changeableAttributes": self.front.store.get("repositories", self.repo),
        }

    def tag_attributes(self, tag: str, digest: str) -> dict[str, Any]:
        created, updated = self.front.backend.tag_times(self.repo, tag)
        return {
            "name": tag,
            "digest": digest,
            "createdTime": _now_iso(created),
            "lastUpdateTime": _now_iso(updated),
            "signed": False,
            "changeableAttributes": self.front.store.get("tags", self.repo, tag),
        }

    def _facts(self, digest: str) -> dict[str, Any]:
        with self._cache_lock:
            cached = self._manifest_cache.get(digest)
        if cached is not None:
            return cached
        backend = self.front.backend
        got = backend.get_manifest(self.repo, digest)
        facts: dict[str, Any] = {"mediaType": "", "imageSize": 0, "references": []}
        if got:
            raw, media_type, _ = got
            doc = json.loads(raw)
            facts["mediaType"] = media_type or doc.get("mediaType", "")
            if facts["mediaType"] in INDEX_TYPES:
                facts["references"] = [
                    {
                        "digest": m["digest"],
                        **{
                            k: v
                            for k, v in (
                                ("architecture", m.get("platform", {}).get("architecture")),
                                ("os", m.get("platform", {}).get("os")),
                            )
                            if v
                        },
                    }
                    for m in doc.get("manifests", [])
                ]
                facts["imageSize"] = sum(int(m.get("size", 0)) for m in doc.get("manifests", []))
            else:
                config = doc.get("config") or {}
                facts["configMediaType"] = config.get("mediaType")
                facts["imageSize"] = int(config.get("size", 0)) + sum(
                    int(x.get("size", 0)) for x in doc.get("layers", [])
                )
                if config.get("digest") and int(config.get("size", 0)) < 1_000_000:
                    status, _, data = backend.request("GET", f"/v2/{self.repo}/blobs/{config['digest']}")
                    if status == 200:
                        try:
                            cfg = json.loads(data)
                            facts["architecture"] = cfg.get("architecture")
                            facts["os"] = cfg.get("os")
                        except (json.JSONDecodeError, AttributeError):
                            pass
        with self._cache_lock:
            self._manifest_cache[digest] = facts
        return facts

    def manifest_attributes(self, digest: str) -> dict[str, Any]:
        facts = self._facts(digest)
        ts = self.front.backend.manifest_time(self.repo, digest)
        out: dict[str, Any] = {
            "digest": digest,
            "imageSize": facts["imageSize"],
            "createdTime": _now_iso(ts),
            "lastUpdateTime": _now_iso(ts),
            "mediaType": facts["mediaType"],
            "tags": sorted(t for t, d in self.tags().items() if d == digest),
            "changeableAttributes": self.front.store.get("manifests", self.repo, digest),
        }
        for key in ("architecture", "os", "configMediaType"):
            if facts.get(key):
                out[key] = facts[key]
        if facts["references"]:
            out["references"] = facts["references"]
        return out


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


__all__ = [
    "ACR_USER",
    "AcrFront",
    "Backend",
    "PropertiesStore",
    "RequestLog",
    "Scope",
    "free_port",
    "manifest_digest",
    "port_is_free",
]
