"""The stand-in's TLS listener base: accepted sockets must not wait on Nagle + delayed ACK."""

from __future__ import annotations

import http.client
import socket
import ssl
import threading
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from genaiops_sandbox.ca import ensure_ca, issue_server_cert
from genaiops_sandbox.tls_server import TLSThreadingHTTPServer


class _ReportNoDelay(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        raw = self.connection.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        body = f"{raw} {self.client_address[1]}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()  # headers and body go out as two sends, as in every stand-in handler
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_accepted_connections_have_tcp_nodelay_and_stay_alive(tmp_path: Path) -> None:
    ca = ensure_ca(tmp_path)
    pair = issue_server_cert(tmp_path, "t", ["localhost", "127.0.0.1"])
    server = TLSThreadingHTTPServer(("127.0.0.1", 0), _ReportNoDelay)
    server.ssl_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.ssl_context.load_cert_chain(pair.cert, pair.key)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        ctx = ssl.create_default_context(cafile=str(ca.cert))
        conn = http.client.HTTPSConnection("localhost", server.server_address[1], context=ctx, timeout=5)
        answers = []
        for _ in range(2):
            conn.request("GET", "/")
            answers.append(conn.getresponse().read())
        nodelay, ports = zip(*(a.decode().split() for a in answers), strict=True)
        assert all(int(v) != 0 for v in nodelay)
        assert ports[0] == ports[1]  # one connection served both requests (keep-alive)
        conn.close()
    finally:
        server.shutdown()
        server.server_close()
