"""The stand-in's Blob service subset for environment locks: containers, block blobs with metadata,
and the Lease Blob operation (acquire / renew / change / release / break) with Azure's semantics.

Addressing is path-style, the way Azure Storage's own emulator does it and the azure-storage-blob
SDK understands for IP hosts: `https://127.0.0.1:PORT/<account>/<container>/<blob>`. Every request
needs `Authorization: Bearer <token>` issued by the stand-in's Entra endpoint for the audience
`https://storage.azure.com` and an `x-ms-version` header, as Azure requires for Entra auth.

Leases follow the REST reference (Lease Blob, Put Blob, Set Blob Metadata): a fixed lease is 15–60 s
(or -1, infinite); acquiring a leased blob is 409 LeaseAlreadyPresent; writes to a leased blob need
its lease id (412 LeaseIdMissing / LeaseIdMismatchWithBlobOperation); an expired lease can be renewed
by its holder until someone else acquires; break starts a break period (202, x-ms-lease-time) after
which the blob is `broken` and free to acquire. State lives in memory: a daemon restart frees every
lease (documented in docs/sandbox-storage-differences.md). stdlib only."""

from __future__ import annotations

import datetime as dt
import email.utils
import hashlib
import logging
import re
import ssl
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from genaiops_sandbox import blob_data
from genaiops_sandbox.faults import FaultTable, drop_connection, lose_answer
from genaiops_sandbox.tls_server import TLSThreadingHTTPServer

log = logging.getLogger("genaiops.sandbox.blob_leases")

STORAGE_AUDIENCE = "https://storage.azure.com"
API_VERSION = "2025-01-05"
_ACCOUNT = re.compile(r"^[a-z0-9]{3,24}$")
_CONTAINER = re.compile(r"^(?!.*--)[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
MAX_BLOB = 4 * 1024 * 1024


@dataclass
class Blob:
    data: bytes = b""
    metadata: dict[str, str] = field(default_factory=dict)
    etag: str = ""
    modified: float = 0.0
    lease_id: str | None = None
    lease_duration: int = 0  # -1 infinite, else seconds
    lease_expires: float = 0.0  # monotonic; for fixed leases
    break_at: float | None = None  # monotonic moment a breaking lease becomes broken
    broken: bool = False

    def touch(self) -> None:
        self.modified = time.time()
        self.etag = (
            '"0x' + hashlib.sha256(f"{self.modified}{uuid.uuid4()}".encode()).hexdigest()[:15].upper() + '"'
        )

    def lease_state(self, now: float) -> str:
        """available | leased | expired | breaking | broken (Get Blob Properties' x-ms-lease-state)."""
        if self.lease_id is None:
            return "broken" if self.broken else "available"
        if self.break_at is not None:
            return "broken" if now >= self.break_at else "breaking"
        if self.lease_duration != -1 and now >= self.lease_expires:
            return "expired"
        return "leased"

    def locked(self, now: float) -> bool:
        return self.lease_state(now) in ("leased", "breaking")


class BlobLeaseService:
    """Accounts → containers → blobs, in memory, served on its own HTTPS port."""

    def __init__(self, tls_dir: Path, issuer: Any, port: int = 0, faults: FaultTable | None = None) -> None:
        from .ca import issue_server_cert

        self.issuer = issuer
        self.faults = faults  # the stand-in's fault table (tests), service `blob`
        self.containers: dict[tuple[str, str], dict[str, Blob]] = {}
        self.lock = threading.Lock()
        cert = issue_server_cert(tls_dir, "blob", ["127.0.0.1", "localhost"])
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(cert.cert), str(cert.key))
        self.server = _BlobServer(self, context, port)
        self.thread = threading.Thread(
            target=self.server.serve_forever,
            kwargs={"poll_interval": 0.2},
            name="sandbox-blob-leases",
            daemon=True,
        )
        self.thread.start()

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class _BlobServer(TLSThreadingHTTPServer):
    allow_reuse_address = True

    def __init__(self, service: BlobLeaseService, context: ssl.SSLContext, port: int) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.service = service
        self.ssl_context = context


class StorageError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _operation(command: str, query: dict[str, str], lease_action: str) -> str:
    """The request kind a fault rule's `operation` matches (faults.OPERATIONS["blob"])."""
    comp = query.get("comp")
    if command == "PUT":
        if query.get("restype") == "container" and comp is None:
            return "container-create"
        if comp == "lease":
            return f"lease-{lease_action.lower() or 'acquire'}"
        named = {
            None: "blob-put",
            "metadata": "metadata-set",
            "block": "block-put",
            "blocklist": "blocklist-put",
        }
        return named.get(comp, "other")
    if command == "GET" and comp == "list":
        return "container-list"
    if comp is None:
        return {"GET": "blob-get", "HEAD": "blob-properties"}.get(command, "other")
    return "other"


def _http_date(epoch: float) -> str:
    return email.utils.formatdate(epoch, usegmt=True)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _BlobServer
    server_version = "genaiops-sandbox-blob"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.command, self.path.split("?", 1)[0])

    # plumbing ---------------------------------------------------------------------------------
    def _reply(self, status: int, headers: dict[str, str] | None = None, body: bytes = b"") -> None:
        headers = dict(headers or {})
        self.send_response(status)
        # HEAD reports the blob's size with no body; everything else sends what it says.
        self.send_header("Content-Length", headers.pop("Content-Length", None) or str(len(body)))
        self.send_header("x-ms-request-id", str(uuid.uuid4()))
        self.send_header("x-ms-version", API_VERSION)
        self.send_header("Date", _http_date(time.time()))
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)

    def _error(self, exc: StorageError, extra: dict[str, str] | None = None) -> None:
        body = (
            '<?xml version="1.0" encoding="utf-8"?>'
            f"<Error><Code>{exc.code}</Code><Message>{exc.message}\nRequestId:{uuid.uuid4()}\n"
            f"Time:{dt.datetime.now(dt.UTC).isoformat()}</Message></Error>"
        ).encode()
        headers = {"Content-Type": "application/xml", "x-ms-error-code": exc.code, **(extra or {})}
        self._reply(exc.status, headers, body)

    def _authorize(self) -> None:
        auth = self.headers.get("Authorization") or ""
        if not auth:
            raise StorageError(
                401, "NoAuthenticationInformation", "Server failed to authenticate the request."
            )
        scheme, _, token = auth.partition(" ")
        claims = (
            self.server.service.issuer.verify(token.strip(), STORAGE_AUDIENCE) if scheme == "Bearer" else None
        )
        if claims is None:
            raise StorageError(401, "InvalidAuthenticationInfo", "Server failed to authenticate the request.")
        if not self.headers.get("x-ms-version"):
            raise StorageError(
                400, "MissingRequiredHeader", "An HTTP header that's mandatory is missing: x-ms-version."
            )

    def _route(self) -> tuple[str, str, str | None, dict[str, str]]:
        split = urlsplit(self.path)
        parts = [unquote(p) for p in split.path.split("/") if p]
        query = dict(parse_qsl(split.query, keep_blank_values=True))
        if len(parts) < 2 or not _ACCOUNT.match(parts[0]):
            raise StorageError(
                400, "InvalidUri", "The requested URI does not represent any resource on the server."
            )
        if not _CONTAINER.match(parts[1]):
            raise StorageError(
                400, "InvalidResourceName", "The specifed resource name contains invalid characters."
            )
        blob = "/".join(parts[2:]) or None
        if blob is not None and (".." in parts[2:] or len(blob) > 1024):
            raise StorageError(
                400, "InvalidResourceName", "The specifed resource name contains invalid characters."
            )
        return parts[0], parts[1], blob, query

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BLOB:
            raise StorageError(413, "RequestBodyTooLarge", "The request body is too large.")
        return self.rfile.read(length) if length else b""

    def _fault(self) -> bool:
        """Apply the fault table (service `blob`, path-style path, `operation`); True when the request
        was answered or dropped here. Azure Storage throttles with 503 ServerBusy, not 429 (its SDK
        retries 5xx and not 429), so a `429` rule answers that, with its Retry-After."""
        faults = self.server.service.faults
        if faults is None:
            return False
        split = urlsplit(self.path)
        query = dict(parse_qsl(split.query, keep_blank_values=True))
        operation = _operation(self.command, query, self.headers.get("x-ms-lease-action") or "")
        fault = faults.take(self.command, unquote(split.path), "blob", operation)
        if fault is None:
            return False
        if fault.kind == "drop":
            drop_connection(self)
            return True
        if fault.kind == "drop_after":
            lose_answer(self)
        elif fault.kind == "latency":
            time.sleep(fault.latency_ms / 1000)
        elif fault.kind in ("429", "500"):
            self._body()  # read what was sent: the answer must reach the client
            busy = fault.kind == "429"
            error = (
                StorageError(503, "ServerBusy", "The server is busy (sandbox fault).")
                if busy
                else StorageError(
                    500, "InternalError", "The server encountered an internal error (sandbox fault)."
                )
            )
            self._error(error, {"Retry-After": str(fault.retry_after)} if busy else {})
            return True
        return False

    def _dispatch(self) -> None:
        if self._fault():
            return
        try:
            body = self._body()
            self._authorize()
            account, container, blob, query = self._route()
            self.out_body = b""
            with self.server.service.lock:
                status, headers = blob_data.operate(self, account, container, blob, query, body) or (
                    self._operate(account, container, blob, query, body)
                )
        except StorageError as exc:
            self._error(exc)
            return
        self._reply(status, headers, self.out_body)

    do_PUT = do_HEAD = do_GET = do_DELETE = _dispatch

    # operations -------------------------------------------------------------------------------
    def _operate(
        self, account: str, container: str, blob_name: str | None, query: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str]]:
        containers = self.server.service.containers
        key = (account, container)
        if blob_name is None:
            if self.command == "PUT" and query.get("restype") == "container":
                if key in containers:
                    raise StorageError(
                        409, "ContainerAlreadyExists", "The specified container already exists."
                    )
                containers[key] = {}
                return 201, {"ETag": f'"{uuid.uuid4().hex}"', "Last-Modified": _http_date(time.time())}
            raise StorageError(
                400, "UnsupportedHttpVerb", "The resource doesn't support the specified HTTP verb."
            )
        blobs = containers.get(key)
        if blobs is None:
            raise StorageError(404, "ContainerNotFound", "The specified container does not exist.")
        blob = blobs.get(blob_name)
        now = time.monotonic()
        comp = query.get("comp")
        if self.command == "PUT" and comp == "lease":
            if blob is None:
                raise StorageError(404, "BlobNotFound", "The specified blob does not exist.")
            return self._lease(blob, now)
        if self.command == "PUT" and comp == "metadata":
            if blob is None:
                raise StorageError(404, "BlobNotFound", "The specified blob does not exist.")
            self._check_write_lease(blob, now)
            blob.metadata = self._metadata()
            blob.touch()
            return 200, self._validators(blob)
        if self.command == "PUT" and comp is None:
            if (self.headers.get("x-ms-blob-type") or "") != "BlockBlob":
                raise StorageError(
                    400,
                    "MissingRequiredHeader",
                    "An HTTP header that's mandatory is missing: x-ms-blob-type.",
                )
            if blob is not None:
                if self.headers.get("If-None-Match") == "*":
                    raise StorageError(409, "BlobAlreadyExists", "The specified blob already exists.")
                self._check_write_lease(blob, now)
            elif self.headers.get("x-ms-lease-id"):
                raise StorageError(
                    412, "LeaseNotPresentWithBlobOperation", "There is currently no lease on the blob."
                )
            target = blob or Blob()
            target.data, target.metadata = body, self._metadata()
            target.touch()
            blobs[blob_name] = target
            return 201, {**self._validators(target), "x-ms-request-server-encrypted": "true"}
        if self.command in ("HEAD", "GET") and comp is None:
            if blob is None:
                raise StorageError(404, "BlobNotFound", "The specified blob does not exist.")
            return 200, self._properties(blob, now)
        raise StorageError(
            400, "UnsupportedHttpVerb", "The resource doesn't support the specified HTTP verb."
        )

    def _metadata(self) -> dict[str, str]:
        return {
            k[len("x-ms-meta-") :].lower(): v
            for k, v in self.headers.items()
            if k.lower().startswith("x-ms-meta-")
        }

    @staticmethod
    def _validators(blob: Blob) -> dict[str, str]:
        return {"ETag": blob.etag, "Last-Modified": _http_date(blob.modified)}

    def _properties(self, blob: Blob, now: float) -> dict[str, str]:
        state = blob.lease_state(now)
        headers = {
            **self._validators(blob),
            "Content-Type": "application/octet-stream",
            "x-ms-blob-type": "BlockBlob",
            "x-ms-lease-state": state,
            "x-ms-lease-status": "locked" if state in ("leased", "breaking") else "unlocked",
            "x-ms-creation-time": _http_date(blob.modified),
        }
        if state == "leased":
            headers["x-ms-lease-duration"] = "infinite" if blob.lease_duration == -1 else "fixed"
        for k, v in blob.metadata.items():
            headers[f"x-ms-meta-{k}"] = v
        return headers

    def _check_write_lease(self, blob: Blob, now: float) -> None:
        given = self.headers.get("x-ms-lease-id")
        if blob.locked(now):
            if not given:
                raise StorageError(
                    412,
                    "LeaseIdMissing",
                    "There is currently a lease on the blob and no lease ID was specified in the request.",
                )
            if given != blob.lease_id:
                raise StorageError(
                    412,
                    "LeaseIdMismatchWithBlobOperation",
                    "The lease ID specified did not match the lease ID for the blob.",
                )
        elif given:
            raise StorageError(
                412, "LeaseLost", "A lease ID was specified, but the lease for the blob has expired."
            )

    def _lease(self, blob: Blob, now: float) -> tuple[int, dict[str, str]]:
        action = (self.headers.get("x-ms-lease-action") or "").lower()
        given = self.headers.get("x-ms-lease-id")
        state = blob.lease_state(now)
        base = self._validators(blob)
        if action == "acquire":
            duration = self._duration()
            proposed = self.headers.get("x-ms-proposed-lease-id") or str(uuid.uuid4())
            if not _UUID.match(proposed):
                raise StorageError(
                    400,
                    "InvalidHeaderValue",
                    "The value for one of the HTTP headers is not in the correct format.",
                )
            if state in ("leased", "breaking") and proposed != blob.lease_id:
                code = "LeaseIsBreakingAndCannotBeAcquired" if state == "breaking" else "LeaseAlreadyPresent"
                raise StorageError(409, code, "There is already a lease present.")
            blob.lease_id, blob.lease_duration, blob.break_at, blob.broken = proposed, duration, None, False
            blob.lease_expires = now + (duration if duration > 0 else 0)
            return 201, {**base, "x-ms-lease-id": proposed}
        if action in ("renew", "release", "change"):
            if not given:
                raise StorageError(
                    400, "MissingRequiredHeader", "An HTTP header that's mandatory is missing: x-ms-lease-id."
                )
            if blob.lease_id is None or given != blob.lease_id:
                code = {
                    "renew": "LeaseIdMismatchWithLeaseOperation",
                    "release": "LeaseIdMismatchWithLeaseOperation",
                    "change": "LeaseIdMismatchWithLeaseOperation",
                }[action]
                if blob.lease_id is None:
                    code = "LeaseNotPresentWithLeaseOperation"
                raise StorageError(
                    409, code, "The lease ID specified did not match the lease ID for the blob."
                )
            if action == "renew":
                if state in ("breaking", "broken"):
                    raise StorageError(
                        409,
                        "LeaseIsBrokenAndCannotBeRenewed",
                        "The lease ID matched, but the lease has been broken explicitly and cannot be "
                        "renewed.",
                    )
                blob.lease_expires = now + (blob.lease_duration if blob.lease_duration > 0 else 0)
                return 200, {**base, "x-ms-lease-id": given}
            if action == "release":
                blob.lease_id, blob.break_at, blob.broken = None, None, False
                return 200, base
            proposed = self.headers.get("x-ms-proposed-lease-id") or ""
            if not _UUID.match(proposed):
                raise StorageError(
                    400,
                    "InvalidHeaderValue",
                    "The value for one of the HTTP headers is not in the correct format.",
                )
            blob.lease_id = proposed
            return 200, {**base, "x-ms-lease-id": proposed}
        if action == "break":
            if blob.lease_id is None:
                raise StorageError(
                    409, "LeaseNotPresentWithLeaseOperation", "There is currently no lease on the blob."
                )
            period_header = self.headers.get("x-ms-lease-break-period")
            remaining = 0.0 if blob.lease_duration == -1 else max(0.0, blob.lease_expires - now)
            if state in ("expired", "broken"):
                remaining = 0.0
            period = remaining
            if period_header is not None:
                try:
                    asked = int(period_header)
                except ValueError:
                    asked = -1
                if not 0 <= asked <= 60:
                    raise StorageError(
                        400,
                        "InvalidHeaderValue",
                        "The value for one of the HTTP headers is not in the correct format.",
                    )
                period = min(float(asked), remaining) if blob.lease_duration != -1 else float(asked)
            if state == "breaking":
                period = min(period, max(0.0, (blob.break_at or now) - now))
            blob.break_at = now + period
            if period == 0:
                blob.lease_id, blob.break_at, blob.broken = None, None, True
            return 202, {**base, "x-ms-lease-time": str(int(period))}
        raise StorageError(
            400, "InvalidHeaderValue", "The value for one of the HTTP headers is not in the correct format."
        )

    def _duration(self) -> int:
        try:
            duration = int(self.headers.get("x-ms-lease-duration") or "")
        except ValueError:
            duration = 0
        if duration != -1 and not 15 <= duration <= 60:
            raise StorageError(
                400,
                "InvalidHeaderValue",
                "The value for one of the HTTP headers is not in the correct format.",
            )
        return duration
