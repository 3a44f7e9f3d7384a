"""What the stand-in's HTTPS ingress adds per request over the backend it fronts.

Backend: the sample agent (templates/agent, plain HTTP on 127.0.0.1). Front: the stand-in's router
(sandbox/genaiops_sandbox/router.py: TLS, Host routing, proxy to the backend) with a one-app route table.
Both sides are driven by the same client (http.client, which sets TCP_NODELAY) in the same run:

- keep-alive: N sequential GET /healthz on one connection, median per request;
- fresh connection: N sequential "connect, one GET, close", median per request — the case Nagle +
  delayed ACK used to stall (~40 ms) when the listener sent headers and body as separate segments.

Prints both sides, the difference (what the stand-in adds) and the conditions.

    python benchmarks/standin_overhead.py [--requests 300]
"""

from __future__ import annotations

import argparse
import http.client
import os
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "sandbox"))
AGENT = REPO / "templates" / "agent" / "src" / "agent" / "app" / "server.py"
DOMAIN = "bench.sandbox.local"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class OneAppRuntime:
    """The slice of the runtime the router reads: one app, one revision, 100 % traffic."""

    def __init__(self, port: int) -> None:
        self.port = port

    def all_routes(self):
        from genaiops_sandbox.runtime_api import AppRoutes, TrafficRoute

        return [AppRoutes("agent", DOMAIN, [TrafficRoute("agent--r1", 100)], ["agent--r1"])]

    def revision_endpoint(self, revision: str, *where: str):
        return ("127.0.0.1", self.port)


def timed(make_conn, n: int, keep_alive: bool) -> list[float]:
    out = []
    conn = make_conn()
    for _ in range(n):
        if not keep_alive:
            conn = make_conn()
        start = time.perf_counter()
        conn.request("GET", "/healthz", headers={"Host": f"agent.{DOMAIN}"})
        conn.getresponse().read()
        out.append(time.perf_counter() - start)
        if not keep_alive:
            conn.close()
    conn.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--requests", type=int, default=300)
    args = ap.parse_args()
    from genaiops_sandbox.ca import ensure_ca
    from genaiops_sandbox.router import Router

    port = free_port()
    agent = subprocess.Popen(
        [sys.executable, str(AGENT)], env={**os.environ, "PORT": str(port)}, stdout=subprocess.DEVNULL
    )
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        with tempfile.TemporaryDirectory() as tmp:
            ca = ensure_ca(Path(tmp))
            router = Router(OneAppRuntime(port), Path(tmp)).start()
            ctx = ssl.create_default_context(cafile=str(ca.cert))

            def direct():
                return http.client.HTTPConnection("127.0.0.1", port, timeout=10)

            def front():
                conn = http.client.HTTPSConnection(f"agent.{DOMAIN}", router.port, context=ctx, timeout=10)
                conn.sock = ctx.wrap_socket(
                    socket.create_connection(("127.0.0.1", router.port)), server_hostname=f"agent.{DOMAIN}"
                )
                conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                return conn

            n = args.requests
            timed(direct, 20, True), timed(front, 20, True)  # warm both
            rows = []
            for keep_alive in (True, False):
                d = statistics.median(timed(direct, n, keep_alive)) * 1000
                f = statistics.median(timed(front, n, keep_alive)) * 1000
                rows.append((keep_alive, d, f))
            router.close()
    finally:
        agent.terminate()
        agent.wait(timeout=10)
    print(f"conditions: {n} sequential GET /healthz per case, medians, client http.client (TCP_NODELAY),")
    print(
        f"            backend = sample agent (HTTP), front = stand-in router (HTTPS), {os.cpu_count()} cores"
    )
    print(f"{'case':<34}{'backend direct':>16}{'via stand-in':>14}{'added':>10}")
    for keep_alive, d, f in rows:
        case = "keep-alive connection" if keep_alive else "fresh connection (TLS handshake)"
        print(f"{case:<34}{d:>13.2f} ms{f:>11.2f} ms{f - d:>7.2f} ms")
    print("goal: added <= 1 ms per request on a kept-alive connection")


if __name__ == "__main__":
    main()
