"""providers/row_client.py (the evaluation runner's HTTP client) against real local servers: TLS with a
resolve map, kept-alive connections, HTTP/1.0 servers that close, and servers that drop idle connections."""

from __future__ import annotations

import json
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from genaiops_cli.providers.row_client import RowClient
from genaiops_sandbox.ca import ensure_ca, issue_server_cert

DOMAIN = "sandbox.genaiops.test"


class _Echo(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        body = json.dumps(
            {
                "host": self.headers.get("Host"),
                "path": self.path,
                "ctype": self.headers.get("Content-Type"),
                "json": json.loads(raw) if raw else None,
                "peer_port": self.client_address[1],
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        if self.path == "/drop":  # answer, then drop the kept-alive connection without saying so
            self.close_connection = True

    def log_message(self, *args):
        pass


class _Echo10(_Echo):
    protocol_version = "HTTP/1.0"  # closes after every response, like the sample agent


def _serve(handler, ctx=None):
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    if ctx is not None:
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory):
    tls = tmp_path_factory.mktemp("tls")
    ca = ensure_ca(tls)
    pair = issue_server_cert(tls, "echo", [f"*.{DOMAIN}"])
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(pair.cert, pair.key)
    server = _serve(_Echo, ctx)
    yield str(ca.cert), server.server_address[1]
    server.shutdown()
    server.server_close()


def _run(client: RowClient, calls: list[tuple[str, dict | None]]) -> list:
    with client:
        return [client.request("POST", url, json=body, timeout=5) for url, body in calls]


def test_resolve_map_keeps_host_verifies_tls_and_reuses_the_connection(tls_server):
    ca, port = tls_server
    client = RowClient({f"*.{DOMAIN}": f"127.0.0.1:{port}"}, ca, 5)
    url = f"https://web.{DOMAIN}/chat?x=1"
    first, second = _run(client, [(url, {"message": "é"}), (url, {"message": "b"})])
    a, b = json.loads(first.content), json.loads(second.content)
    assert first.status_code == 200 and first.headers["content-type"] == "application/json"
    assert a["host"] == f"web.{DOMAIN}" and a["path"] == "/chat?x=1"
    assert a["ctype"] == "application/json" and a["json"] == {"message": "é"}
    assert a["peer_port"] == b["peer_port"]  # kept alive: one connection for both


def test_untrusted_ca_is_refused(tls_server):
    _, port = tls_server
    client = RowClient({f"*.{DOMAIN}": f"127.0.0.1:{port}"}, None, 5)
    with pytest.raises(ssl.SSLCertVerificationError):
        _run(client, [(f"https://web.{DOMAIN}/", None)])


def test_http10_server_gets_a_new_connection_per_request():
    server = _serve(_Echo10)
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/chat"
        replies = _run(RowClient(), [(url, {"n": i}) for i in range(3)])
        assert [json.loads(r.content)["json"] for r in replies] == [{"n": 0}, {"n": 1}, {"n": 2}]
        assert len({json.loads(r.content)["peer_port"] for r in replies}) == 3
    finally:
        server.shutdown()
        server.server_close()


def test_connection_dropped_while_idle_is_replaced_transparently():
    server = _serve(_Echo)
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        replies = _run(RowClient(), [(base + "/drop", {}), (base + "/after", {})])
        assert [r.status_code for r in replies] == [200, 200]
        assert json.loads(replies[1].content)["path"] == "/after"
    finally:
        server.shutdown()
        server.server_close()


def test_many_threads_share_one_client_and_hold_at_most_one_connection_each(tls_server):
    """The runner's worker threads call one RowClient at once: every answer comes back to its own
    caller, and kept-alive connections are reused, never more of them than threads."""
    ca, port = tls_server
    client = RowClient({f"*.{DOMAIN}": f"127.0.0.1:{port}"}, ca, 5)
    threads, per_thread = 4, 6
    replies: dict[int, list[dict]] = {}

    def work(k: int) -> None:
        replies[k] = [
            json.loads(client.request("POST", f"https://web.{DOMAIN}/t", json={"k": k, "i": i}).content)
            for i in range(per_thread)
        ]

    with client:
        workers = [threading.Thread(target=work, args=(k,)) for k in range(threads)]
        for t in workers:
            t.start()
        for t in workers:
            t.join(30)
    assert {k: [r["json"] for r in rs] for k, rs in replies.items()} == {
        k: [{"k": k, "i": i} for i in range(per_thread)] for k in range(threads)
    }
    assert len({r["peer_port"] for rs in replies.values() for r in rs}) <= threads
