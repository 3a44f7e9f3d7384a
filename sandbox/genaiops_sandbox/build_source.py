"""The stand-in's blob storage for ACR Tasks: build-source uploads and run logs over HTTPS.

Azure hands `Registries_GetBuildSourceUploadUrl` callers a blob SAS URL and `Runs_GetLogSasUrl`
callers a read SAS URL for the run's log blob. This listener plays that storage account: every URL
carries `se` (expiry), `sp` (permissions) and `sig` (an HMAC over path, permissions and expiry with a
key kept in the state dir), and a request without a valid signature gets Azure Storage's 403
`AuthenticationFailed`. Uploads must say `x-ms-blob-type: BlockBlob` as Azure requires. Logs honour
`Range: bytes=N-` (206, or 416 past the end) and report `x-ms-meta-Complete` once the run ended, the
way `az acr` tails a run log. stdlib only: the daemon and in-process tests start it lazily."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import logging
import re
import secrets
import ssl
import threading
import uuid
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from genaiops_sandbox.tls_server import TLSThreadingHTTPServer

log = logging.getLogger("genaiops.sandbox.build_source")

SAS_VERSION = "2025-01-05"
UPLOAD_TTL = dt.timedelta(hours=1)
LOG_TTL = dt.timedelta(hours=1)
KEY_FILE = "storage-key"
MAX_UPLOAD = 512 * 1024 * 1024
_SAFE_PATH = re.compile(r"^[a-z0-9]+/(source|logs)/[A-Za-z0-9._/-]+$")


class BuildSourceStorage:
    """Blob-like storage under `<state_dir>/tasks/blobs/<registry>/…`, served on its own port."""

    def __init__(self, state_dir: Path, tls_dir: Path) -> None:
        from .ca import issue_server_cert

        self.root = state_dir / "tasks" / "blobs"
        self.root.mkdir(parents=True, exist_ok=True)
        key_file = state_dir / "tasks" / KEY_FILE
        if not key_file.exists():
            key_file.write_bytes(secrets.token_bytes(32))
            key_file.chmod(0o600)
        self._key = key_file.read_bytes()
        cert = issue_server_cert(tls_dir, "build-source", ["127.0.0.1", "localhost"])
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(cert.cert), str(cert.key))
        self._complete: dict[str, str] = {}  # blob path → "successful" | "failed"
        self._lock = threading.Lock()
        self.server = _StorageServer(self, context)
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.2}, name="sandbox-blobs", daemon=True
        )
        self.thread.start()

    @property
    def base_url(self) -> str:
        return f"https://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # SAS ------------------------------------------------------------------------------------------
    def _signature(self, path: str, permissions: str, expiry: str) -> str:
        message = f"{path}\n{permissions}\n{expiry}\n{SAS_VERSION}".encode()
        return base64.b64encode(hmac.new(self._key, message, hashlib.sha256).digest()).decode()

    def _sas_url(self, path: str, permissions: str, ttl: dt.timedelta) -> str:
        expiry = (dt.datetime.now(dt.UTC) + ttl).strftime("%Y-%m-%dT%H:%M:%SZ")
        sig = self._signature(path, permissions, expiry)
        query = (
            f"sv={SAS_VERSION}&se={quote(expiry, safe='')}&sr=b&sp={permissions}&sig={quote(sig, safe='')}"
        )
        return f"{self.base_url}/{path}?{query}"

    def check_sas(self, path: str, query: dict[str, str], needed: str) -> bool:
        expiry, permissions, sig = query.get("se", ""), query.get("sp", ""), query.get("sig", "")
        if not (expiry and sig and needed in permissions):
            return False
        try:
            if dt.datetime.strptime(expiry, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC) < dt.datetime.now(
                dt.UTC
            ):
                return False
        except ValueError:
            return False
        return hmac.compare_digest(sig, self._signature(path, permissions, expiry))

    # blobs ----------------------------------------------------------------------------------------
    def new_upload(self, registry: str) -> tuple[str, str]:
        """(upload SAS URL, relativePath) for one build source, as ACR returns them."""
        relative = f"source/{dt.datetime.now(dt.UTC):%Y%m%d%H%M}/{uuid.uuid4()}.tar.gz"
        return self._sas_url(f"{registry}/{relative}", "cw", UPLOAD_TTL), relative

    def source_file(self, registry: str, relative_path: str) -> Path | None:
        path = f"{registry}/{relative_path.lstrip('/')}"
        if not _SAFE_PATH.match(path) or ".." in path.split("/"):
            return None
        file = self.root / path
        return file if file.is_file() else None

    def log_path(self, registry: str, run_id: str) -> str:
        return f"{registry}/logs/{run_id}/rawtext.log"

    def append_log(self, registry: str, run_id: str, text: str) -> None:
        file = self.root / self.log_path(registry, run_id)
        file.parent.mkdir(parents=True, exist_ok=True)
        with self._lock, file.open("a", encoding="utf-8") as fh:
            fh.write(text)

    def read_log(self, registry: str, run_id: str) -> str:
        file = self.root / self.log_path(registry, run_id)
        return file.read_text(encoding="utf-8") if file.exists() else ""

    def complete_log(self, registry: str, run_id: str, outcome: str) -> None:
        with self._lock:
            self._complete[self.log_path(registry, run_id)] = outcome

    def log_url(self, registry: str, run_id: str) -> str:
        return self._sas_url(self.log_path(registry, run_id), "r", LOG_TTL)

    def completion(self, path: str) -> str | None:
        with self._lock:
            return self._complete.get(path)


class _StorageServer(TLSThreadingHTTPServer):
    allow_reuse_address = True
    handshake_timeout = 60.0

    def __init__(self, storage: BuildSourceStorage, context: ssl.SSLContext) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.storage = storage
        self.ssl_context = context


def _storage_error(code: str, message: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f"<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    ).encode()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _StorageServer
    server_version = "genaiops-sandbox-blob"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the request line holds the SAS signature: never log it

    def _reply(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("x-ms-request-id", str(uuid.uuid4()))
        self.send_header("x-ms-version", SAS_VERSION)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)

    def _target(self, needed: str) -> str | None:
        split = urlsplit(self.path)
        path = unquote(split.path).lstrip("/")
        query = dict(parse_qsl(split.query, keep_blank_values=True))
        if not _SAFE_PATH.match(path) or ".." in path.split("/"):
            self._reply(
                404,
                _storage_error("BlobNotFound", "The specified blob does not exist."),
                {"Content-Type": "application/xml"},
            )
            return None
        if not self.server.storage.check_sas(path, query, needed):
            self._reply(
                403,
                _storage_error(
                    "AuthenticationFailed",
                    "Server failed to authenticate the request. Make sure the value of Authorization "
                    "header is formed correctly including the signature.",
                ),
                {"Content-Type": "application/xml"},
            )
            return None
        return path

    def do_PUT(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        path = self._target("w")
        if path is None:
            self.rfile.read(length)
            return
        if (self.headers.get("x-ms-blob-type") or "") != "BlockBlob":
            self.rfile.read(length)
            self._reply(
                400,
                _storage_error(
                    "MissingRequiredHeader",
                    "An HTTP header that's mandatory for this request is not specified.",
                ),
                {"Content-Type": "application/xml"},
            )
            return
        if "/source/" not in f"/{path}" or length > MAX_UPLOAD:
            self.rfile.read(length)
            self._reply(
                403,
                _storage_error(
                    "AuthorizationPermissionMismatch",
                    "This request is not authorized to perform this operation.",
                ),
            )
            return
        data = self.rfile.read(length)
        file = self.server.storage.root / path
        file.parent.mkdir(parents=True, exist_ok=True)
        tmp = file.with_suffix(".part")
        tmp.write_bytes(data)
        tmp.replace(file)
        md5 = base64.b64encode(hashlib.md5(data).digest()).decode()
        self._reply(
            201,
            b"",
            {
                "ETag": f'"0x{secrets.token_hex(8).upper()}"',
                "Content-MD5": md5,
                "x-ms-request-server-encrypted": "true",
            },
        )

    def do_GET(self) -> None:
        path = self._target("r")
        if path is None:
            return
        file = self.server.storage.root / path
        if not file.is_file():
            self._reply(
                404,
                _storage_error("BlobNotFound", "The specified blob does not exist."),
                {"Content-Type": "application/xml"},
            )
            return
        data = file.read_bytes()
        headers = {"Content-Type": "text/plain; charset=utf-8", "x-ms-blob-type": "AppendBlob"}
        outcome = self.server.storage.completion(path)
        if outcome:
            headers["x-ms-meta-Complete"] = outcome
        wanted = re.fullmatch(
            r"bytes=(\d+)-", self.headers.get("Range") or self.headers.get("x-ms-range") or ""
        )
        if wanted:
            start = int(wanted.group(1))
            if start >= len(data):
                self._reply(
                    416,
                    _storage_error(
                        "InvalidRange", "The range specified is invalid for the current size of the resource."
                    ),
                    {**headers, "Content-Type": "application/xml", "Content-Range": f"bytes */{len(data)}"},
                )
                return
            headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
            self._reply(206, data[start:], headers)
            return
        self._reply(200, data, headers)

    do_HEAD = do_GET
