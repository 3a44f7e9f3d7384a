"""What the stand-in's JSON listeners (ARM in arm/server.py, Foundry in foundry_server.py) share:
reading one request (decoded path, query, body), applying the fault table to it, and dropping a
connection. Each listener keeps its own routing, errors and answer headers."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from .faults import drop_connection, lose_answer


@dataclass(frozen=True)
class Incoming:
    path: str  # URL-decoded, without the query
    query: dict[str, str]
    raw: bytes  # the body (Content-Length bytes)


class JsonHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: every answer carries Content-Length
    sys_version = ""
    log: logging.Logger  # the listener's logger

    def log_message(self, format: str, *args: Any) -> None:
        self.log.debug("%s " + format, self.client_address[0], *args)

    def read_request(self) -> Incoming:
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        return Incoming(
            unquote(split.path),
            dict(parse_qsl(split.query, keep_blank_values=True)),
            self.rfile.read(length) if length else b"",
        )

    def apply_fault(
        self, path: str, throttled: Callable[[int], Exception], failed: Callable[[], Exception]
    ) -> bool:
        """The fault table's rule for this request, if one matches: latency sleeps, 429 raises
        `throttled(retry_after)`, 500 raises `failed()`, drop_after lets the request be handled and
        loses its answer; True when the connection was dropped before (the caller answers nothing)."""
        fault = self.server.faults.take(self.command, path)  # type: ignore[attr-defined]
        if fault is None:
            return False
        if fault.kind == "drop":
            self.drop()
            return True
        if fault.kind == "drop_after":
            lose_answer(self)
        if fault.kind == "latency":
            time.sleep(fault.latency_ms / 1000)
        elif fault.kind == "429":
            raise throttled(fault.retry_after)
        elif fault.kind == "500":
            raise failed()
        return False

    def drop(self) -> None:
        drop_connection(self)
