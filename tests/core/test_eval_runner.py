"""The runner against a real local HTTP server: retries honouring Retry-After, timeouts,
bounded concurrency, and failed rows kept (never dropped)."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from genaiops_cli.core.evaluation.calls import Call
from genaiops_cli.core.evaluation.dataset import RenderedRequest
from genaiops_cli.core.evaluation.runner import RunOptions, Side, Target, execute, retry_after_seconds
from genaiops_cli.providers.http import http_client
from genaiops_cli.providers.row_client import RowClient


class _State:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.seen: dict[str, int] = {}
        self.in_flight = 0
        self.max_in_flight = 0


class _Handler(BaseHTTPRequestHandler):
    state: _State

    def log_message(self, *args):
        pass

    def _send(self, status, payload, headers=None):
        # Leave the in-flight count before the answer goes out: once the client has it, it may
        # send its next request before this handler thread runs again.
        self._leave()
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _leave(self):
        if getattr(self, "_counted", False):
            self._counted = False
            with self.state.lock:
                self.state.in_flight -= 1

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
        key = f"{self.path}:{body.get('message')}"
        st = self.state
        with st.lock:
            st.seen[key] = st.seen.get(key, 0) + 1
            count = st.seen[key]
            st.in_flight += 1
            st.max_in_flight = max(st.max_in_flight, st.in_flight)
        self._counted = True
        try:
            if self.path == "/flaky" and count == 1:
                self._send(429, {"error": "slow down"}, {"Retry-After": "1"})
            elif self.path == "/down":
                self._send(503, {"error": "unavailable"})
            elif self.path == "/bad":
                self._send(400, {"error": "bad request"})
            elif self.path == "/slow":
                time.sleep(1.5)
                self._send(200, {"answer": "late"})
            elif self.path == "/count":
                time.sleep(0.05)
                self._send(200, {"answer": body.get("message")})
            elif self.path == "/shape":
                self._send(200, {"other": 1})
            else:
                self._send(200, {"answer": f"echo {body.get('message')}"})
        finally:
            self._leave()


@pytest.fixture()
def server():
    state = _State()
    handler = type("H", (_Handler,), {"state": state})
    srv = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}", state
    srv.shutdown()
    srv.server_close()


def calls(path: str, n: int) -> list[Call]:
    return [
        Call(f"r{i}", i + 1, "row", RenderedRequest("POST", path, json={"message": f"m{i}"}), {"q": i})
        for i in range(n)
    ]


def run(url: str, cs: list[Call], **opts) -> list:
    done = []
    out = execute(
        [Side("s", Target(url), cs, "$.answer")],
        lambda t: RowClient(timeout=5),
        RunOptions(**{"backoff": 0.01, **opts}),
        on_done=done.append,
    )
    assert len(done) == len(cs)
    return out["s"]


def test_success_extracts_the_answer(server):
    url, _ = server
    [o] = run(url, calls("/echo", 1))
    assert (o.status, o.answer, o.error, o.attempts) == (200, "echo m0", None, 1)
    assert o.latency_ms > 0


def test_429_is_retried_after_the_servers_delay(server):
    url, state = server
    started = time.perf_counter()
    [o] = run(url, calls("/flaky", 1))
    assert o.error is None and o.attempts == 2
    assert time.perf_counter() - started >= 0.9  # waited Retry-After: 1
    assert state.seen["/flaky:m0"] == 2


def test_persistent_5xx_becomes_an_error_row(server):
    url, state = server
    outs = run(url, calls("/down", 2), retries=2)
    assert [o.error for o in outs] == ["HTTP 503", "HTTP 503"]
    assert [o.attempts for o in outs] == [3, 3]
    assert state.seen["/down:m0"] == 3


def test_4xx_is_not_retried(server):
    url, state = server
    [o] = run(url, calls("/bad", 1))
    assert (o.error, o.attempts) == ("HTTP 400", 1)


def test_timeout_keeps_the_row_with_an_error(server):
    url, _ = server
    outs = run(url, calls("/slow", 2), timeout=0.3, retries=0)
    assert len(outs) == 2
    assert all(o.error and "Timeout" in o.error and o.answer is None for o in outs)


def test_missing_answer_path_is_an_error(server):
    url, _ = server
    [o] = run(url, calls("/shape", 1))
    assert o.status == 200 and o.error.startswith("answer not found")


def test_concurrency_is_bounded(server):
    url, state = server
    outs = run(url, calls("/count", 24), concurrency=3)
    assert [o.answer for o in outs] == [f"m{i}" for i in range(24)]  # order kept
    assert state.max_in_flight == 3


def test_connection_refused_is_an_error_row():
    # a port nobody listens on (bound then closed)
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    [o] = run(f"http://127.0.0.1:{port}", calls("/x", 1), retries=1)
    assert o.error and o.status is None and o.attempts == 2


def test_retry_after_parsing():
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert retry_after_seconds("3") == 3.0
    assert retry_after_seconds(
        format_datetime(now + timedelta(seconds=20), usegmt=True), now
    ) == pytest.approx(20)
    assert retry_after_seconds(format_datetime(now - timedelta(seconds=20), usegmt=True), now) == 0.0
    assert retry_after_seconds("soon") is None and retry_after_seconds(None) is None


def test_an_httpx_client_meets_the_same_contract(server):
    """The runner needs only request() and close(): httpx.Client (providers/http.py) works unchanged."""
    url, state = server
    outs = execute(
        [Side("s", Target(url), calls("/count", 6), "$.answer")],
        lambda t: http_client(timeout=5),
        RunOptions(concurrency=2),
    )
    assert [o.answer for o in outs["s"]] == [f"m{i}" for i in range(6)]
    assert state.max_in_flight == 2


def test_finished_rows_reach_on_done_on_the_calling_thread(server):
    """The progress bar is not thread-safe: workers hand rows over, the caller reports them."""
    url, _ = server
    seen_on: set[int] = set()
    execute(
        [Side("s", Target(url), calls("/count", 10), "$.answer")],
        lambda t: RowClient(timeout=5),
        RunOptions(concurrency=4),
        on_done=lambda o: seen_on.add(threading.get_ident()),
    )
    assert seen_on == {threading.get_ident()}
