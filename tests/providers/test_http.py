"""providers/http.py against a real local TLS server whose certificate names hosts DNS cannot resolve."""

import asyncio
import json
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from genaiops_cli.providers.http import async_http_client, http_client
from genaiops_sandbox.ca import ensure_ca, issue_server_cert

DOMAIN = "sandbox.genaiops.test"


class _Echo(BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"host": self.headers.get("Host"), "path": self.path}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory):
    tls = tmp_path_factory.mktemp("tls")
    ca = ensure_ca(tls)
    pair = issue_server_cert(tls, "echo", [f"*.{DOMAIN}", "only-this.example"])
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(pair.cert, pair.key)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield str(ca.cert), server.server_address[1]
    server.shutdown()
    server.server_close()


def test_mapped_host_keeps_host_header_and_verifies_tls(tls_server):
    ca, port = tls_server
    with http_client({f"*.{DOMAIN}": f"127.0.0.1:{port}"}, ca_bundle=ca, timeout=5) as client:
        r = client.get(f"https://web.{DOMAIN}/hello?x=1")
    assert r.status_code == 200
    assert r.json() == {"host": f"web.{DOMAIN}", "path": "/hello?x=1"}


def test_target_without_port_keeps_url_port(tls_server):
    ca, port = tls_server
    with http_client({"only-this.example": "127.0.0.1"}, ca_bundle=ca, timeout=5) as client:
        r = client.get(f"https://only-this.example:{port}/")
    assert r.json()["host"] == f"only-this.example:{port}"


def test_certificate_not_naming_the_host_is_refused(tls_server):
    ca, port = tls_server
    # mapped to the same server, but its certificate does not name this host: verification must fail
    with http_client({"other.example": f"127.0.0.1:{port}"}, ca_bundle=ca, timeout=5) as client:
        with pytest.raises(httpx.ConnectError, match="(?i)certificate|hostname"):
            client.get("https://other.example/")


def test_untrusted_ca_is_refused(tls_server):
    _, port = tls_server
    with http_client({f"*.{DOMAIN}": f"127.0.0.1:{port}"}, ca_bundle=None, timeout=5) as client:
        with pytest.raises(httpx.ConnectError, match="(?i)certificate"):
            client.get(f"https://web.{DOMAIN}/")


def test_unmapped_host_is_not_redirected(tls_server):
    ca, port = tls_server
    with http_client({f"*.{DOMAIN}": f"127.0.0.1:{port}"}, ca_bundle=ca, timeout=5) as client:
        with pytest.raises(httpx.ConnectError):
            client.get(f"https://{DOMAIN}.invalid/")  # .invalid never resolves (RFC 6761)


def test_async_client(tls_server):
    ca, port = tls_server

    async def go():
        async with async_http_client({f"*.{DOMAIN}": f"127.0.0.1:{port}"}, ca_bundle=ca, timeout=5) as c:
            return await c.get(f"https://api---blue.{DOMAIN}/a")

    r = asyncio.run(go())
    assert r.status_code == 200 and r.json()["host"] == f"api---blue.{DOMAIN}"


def test_env_proxy_does_not_capture_mapped_hosts(tls_server, monkeypatch):
    ca, port = tls_server
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")  # nothing listens on the discard port
    with http_client({f"*.{DOMAIN}": f"127.0.0.1:{port}"}, ca_bundle=ca, timeout=5) as client:
        assert client.get(f"https://web.{DOMAIN}/").status_code == 200
