"""The stand-in Blob service's data operations, beside the lease subset in blob_leases.py: what
azure-storage-blob needs to upload, list and download datasets.

- Get Blob with its body, honouring `x-ms-range`/`Range` (206 + Content-Range; 416 InvalidRange past
  the end, which the SDK answers with a plain GET for an empty blob) and Get Blob Properties (HEAD)
  with the real Content-Length.
- Put Block (`comp=block&blockid=`) and Put Block List (`comp=blocklist`, `<Latest>`/`<Committed>`/
  `<Uncommitted>` ids): how the SDK uploads anything above its single-put size.
- List Blobs (`restype=container&comp=list`, `prefix`, `include=metadata`, `maxresults`, `marker`)
  as the EnumerationResults XML of the REST reference.

Returns None for anything else, so blob_leases.py keeps its own operations. State is in memory
(docs/sandbox-storage-differences.md)."""

from __future__ import annotations

import base64
import hashlib
import re
import xml.etree.ElementTree as ET
from typing import Any
from xml.sax.saxutils import escape

_RANGE = re.compile(r"^bytes=(\d+)-(\d*)$")
MAX_BLOCKS = 50_000  # Azure's limit of committed blocks per blob


def operate(
    handler: Any, account: str, container: str, blob_name: str | None, query: dict[str, str], body: bytes
) -> tuple[int, dict[str, str]] | None:
    from genaiops_sandbox.blob_leases import StorageError

    service = handler.server.service
    blobs = service.containers.get((account, container))
    command, comp = handler.command, query.get("comp")
    if blob_name is None:
        if command == "GET" and query.get("restype") == "container" and comp == "list":
            if blobs is None:
                raise StorageError(404, "ContainerNotFound", "The specified container does not exist.")
            handler.out_body = _list(account, container, blobs, query, handler.server.service.url)
            return 200, {"Content-Type": "application/xml"}
        return None
    if blobs is None:
        return None  # blob_leases answers ContainerNotFound
    if command == "PUT" and comp == "block":
        return _put_block(service, account, container, blob_name, query, body)
    if command == "PUT" and comp == "blocklist":
        return _put_block_list(handler, service, (account, container), blobs, blob_name, body)
    if command in ("GET", "HEAD") and comp is None:
        blob = blobs.get(blob_name)
        if blob is None:
            raise StorageError(404, "BlobNotFound", "The specified blob does not exist.")
        return _get(handler, blob)
    return None


def _get(handler: Any, blob: Any) -> tuple[int, dict[str, str]]:
    import time

    from genaiops_sandbox.blob_leases import StorageError

    headers = handler._properties(blob, time.monotonic())
    headers["Accept-Ranges"] = "bytes"
    headers["Content-MD5"] = base64.b64encode(hashlib.md5(blob.data).digest()).decode()
    if handler.command == "HEAD":
        headers["Content-Length"] = str(len(blob.data))
        return 200, headers
    asked = handler.headers.get("x-ms-range") or handler.headers.get("Range")
    if not asked:
        handler.out_body = blob.data
        return 200, headers
    match = _RANGE.match(asked.strip())
    if match is None:
        raise StorageError(400, "InvalidHeaderValue", "The value for one of the HTTP headers is not valid.")
    start = int(match.group(1))
    end = min(int(match.group(2)) if match.group(2) else len(blob.data) - 1, len(blob.data) - 1)
    if start >= len(blob.data):
        raise StorageError(
            416, "InvalidRange", "The range specified is invalid for the current size of the resource."
        )
    handler.out_body = blob.data[start : end + 1]
    headers["Content-Range"] = f"bytes {start}-{end}/{len(blob.data)}"
    headers.pop("Content-MD5")  # Azure sends the whole blob's MD5 only with x-ms-range-get-content-md5
    return 206, headers


def _put_block(
    service: Any, account: str, container: str, blob_name: str, query: dict[str, str], body: bytes
) -> tuple[int, dict[str, str]]:
    from genaiops_sandbox.blob_leases import StorageError

    block_id = query.get("blockid") or ""
    try:
        base64.b64decode(block_id, validate=True)
    except ValueError:
        block_id = ""
    if not block_id or len(block_id) > 88:  # 64 bytes before encoding
        raise StorageError(
            400, "InvalidQueryParameterValue", "Value for one of the query parameters is invalid."
        )
    pending = service.__dict__.setdefault("uncommitted", {})
    pending.setdefault((account, container, blob_name), {})[block_id] = body
    return 201, {"x-ms-request-server-encrypted": "true"}


def _put_block_list(
    handler: Any, service: Any, key: tuple[str, str], blobs: dict[str, Any], blob_name: str, body: bytes
) -> tuple[int, dict[str, str]]:
    import time

    from genaiops_sandbox.blob_leases import Blob, StorageError

    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        raise StorageError(400, "InvalidXmlDocument", "XML specified is not syntactically valid.") from None
    pending = service.__dict__.setdefault("uncommitted", {}).get((*key, blob_name), {})
    existing = blobs.get(blob_name)
    committed: dict[str, bytes] = getattr(existing, "blocks", {}) if existing else {}
    parts: list[tuple[str, bytes]] = []
    for element in list(root)[: MAX_BLOCKS + 1]:
        block_id = (element.text or "").strip()
        sources = {"Latest": (pending, committed), "Uncommitted": (pending,), "Committed": (committed,)}
        data = next((s[block_id] for s in sources.get(element.tag, ()) if block_id in s), None)
        if data is None:
            raise StorageError(400, "InvalidBlockList", "The specified block list is invalid.")
        parts.append((block_id, data))
    if len(parts) > MAX_BLOCKS:
        raise StorageError(400, "InvalidBlockList", "The specified block list is invalid.")
    if existing is not None:
        if handler.headers.get("If-None-Match") == "*":
            raise StorageError(409, "BlobAlreadyExists", "The specified blob already exists.")
        handler._check_write_lease(existing, time.monotonic())
    target = existing or Blob()
    target.data = b"".join(data for _, data in parts)
    target.blocks = dict(parts)  # type: ignore[attr-defined]
    target.metadata = handler._metadata()
    target.touch()
    blobs[blob_name] = target
    service.uncommitted.pop((*key, blob_name), None)
    return 201, {**handler._validators(target), "x-ms-request-server-encrypted": "true"}


def _list(account: str, container: str, blobs: dict[str, Any], query: dict[str, str], url: str) -> bytes:
    import email.utils

    prefix = query.get("prefix", "")
    include = set(query.get("include", "").split(","))
    try:
        limit = max(1, min(int(query.get("maxresults") or 5000), 5000))
    except ValueError:
        limit = 5000
    names = sorted(n for n in blobs if n.startswith(prefix) and n > query.get("marker", ""))
    page, rest = names[:limit], names[limit:]
    items = []
    for name in page:
        blob = blobs[name]
        meta = ""
        if "metadata" in include:
            meta = (
                "<Metadata>"
                + "".join(f"<{k}>{escape(v)}</{k}>" for k, v in blob.metadata.items())
                + "</Metadata>"
            )
        state = "leased" if blob.lease_id else "available"
        modified = email.utils.formatdate(blob.modified, usegmt=True)
        items.append(
            f"<Blob><Name>{escape(name)}</Name><Properties><Creation-Time>{modified}</Creation-Time>"
            f"<Last-Modified>{modified}</Last-Modified><Etag>{escape(blob.etag)}</Etag>"
            f"<Content-Length>{len(blob.data)}</Content-Length>"
            "<Content-Type>application/octet-stream</Content-Type><BlobType>BlockBlob</BlobType>"
            f"<LeaseStatus>{'locked' if state == 'leased' else 'unlocked'}</LeaseStatus>"
            f"<LeaseState>{state}</LeaseState><ServerEncrypted>true</ServerEncrypted></Properties>"
            f"{meta}</Blob>"
        )
    marker = f"<NextMarker>{escape(page[-1])}</NextMarker>" if rest else "<NextMarker />"
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<EnumerationResults ServiceEndpoint="{escape(url)}/{account}" ContainerName="{escape(container)}">'
        f"<Prefix>{escape(prefix)}</Prefix><MaxResults>{limit}</MaxResults><Blobs>{''.join(items)}</Blobs>"
        f"{marker}</EnumerationResults>"
    ).encode()
