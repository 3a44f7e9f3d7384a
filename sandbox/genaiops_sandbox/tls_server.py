"""The HTTPS server every stand-in listener uses (ARM, ACR fronts, router, build-source storage)."""

from __future__ import annotations

import logging
import socket
import ssl
from http.server import ThreadingHTTPServer
from typing import Any

log = logging.getLogger(__name__)


class TLSThreadingHTTPServer(ThreadingHTTPServer):
    """Threaded HTTP over TLS. The handshake runs in the worker thread, so one slow or broken
    client never blocks the accept loop."""

    daemon_threads = True
    handshake_timeout: float | None = 30.0  # also the idle timeout of the connection afterwards
    ssl_context: ssl.SSLContext

    def tls_context(self) -> ssl.SSLContext:
        return self.ssl_context

    def finish_request(self, request: Any, client_address: Any) -> None:
        try:
            # BaseHTTPRequestHandler writes the status line + headers and the body as separate
            # sends; with Nagle on, the body waits for the client's delayed ACK of the headers
            # (~40 ms on Linux) on every fresh connection. Azure's front doors don't stall that way.
            request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            request.settimeout(self.handshake_timeout)
            tls = self.tls_context().wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as exc:
            log.debug("TLS handshake from %s failed: %s", client_address, exc)
            return
        try:
            super().finish_request(tls, client_address)
        finally:
            try:
                tls.close()
            except OSError:
                pass
