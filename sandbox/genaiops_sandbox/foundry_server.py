"""The HTTPS listener of the stand-in's Foundry projects (foundry.py holds the logic).

A project endpoint is `https://127.0.0.1:<port>/<account>/api/projects/<project>` (Azure:
`https://<account>.services.ai.azure.com/api/projects/<project>`; the account moves from the host
name into the path so one loopback listener serves every account). Below it, the routes
azure-ai-projects 2.10 calls with `?api-version=v1`, and the two ways of invoking an agent:
`…/agents/<name>/endpoint/protocols/openai/responses` (get_openai_client(agent_name=…)) and
`…/openai/v1/responses` with an `agent_reference` (get_openai_client()). Both are proxied to the
chosen version's container on port 8088 (`POST /responses`).

Bearer tokens must be the stand-in's, for the audience `https://ai.azure.com`. The stand-in's fault
table (`/sandbox/faults` on the ARM endpoint) applies here as well, matched on the path below the
port (e.g. `/api/projects/.*/versions`)."""

from __future__ import annotations

import http.client
import json
import logging
import re
import ssl
import threading
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote

from .ca import issue_server_cert
from .faults import FaultTable
from .foundry import API_VERSION, Answer, FoundryError, FoundryPlane
from .foundry_datasets import FoundryDatasets
from .json_handler import JsonHandler
from .tls_server import TLSThreadingHTTPServer
from .tokens import TokenIssuer

log = logging.getLogger("genaiops.sandbox.foundry")

AUDIENCES = {"https://ai.azure.com", "https://ai.azure.com/"}
UPSTREAM_TIMEOUT = 240.0
VERSION_HEADER = "x-genaiops-agent-version"
_PROJECT = re.compile(r"^/(?P<account>[^/]+)/api/projects/(?P<project>[^/]+)(?P<rest>/.*)?$")
_A = r"/agents/(?P<name>[^/:]+)"
_D = r"/datasets/(?P<dataset>[^/:]+)/versions"
ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    (m, re.compile("^" + p + "$"), h)
    for m, p, h in [
        ("GET", r"/agents", "list_agents"),
        ("GET", _A, "get_agent"),
        ("DELETE", _A, "delete_agent"),
        ("PATCH", _A, "update_agent"),
        ("POST", _A + r":enable", "enable"),
        ("POST", _A + r":disable", "disable"),
        ("POST", _A + r"/versions", "create_version"),
        ("GET", _A + r"/versions", "list_versions"),
        ("GET", _A + r"/versions/(?P<version>[^/]+)", "get_version"),
        ("DELETE", _A + r"/versions/(?P<version>[^/]+)", "delete_version"),
        ("POST", _A + r"/endpoint/sessions", "create_session"),
        ("GET", _A + r"/endpoint/sessions/(?P<session>[^/:]+)", "get_session"),
        ("DELETE", _A + r"/endpoint/sessions/(?P<session>[^/:]+)", "delete_session"),
        ("POST", _A + r"/endpoint/sessions/(?P<session>[^/:]+):stop", "stop_session"),
        ("POST", _A + r"/endpoint/protocols/openai/responses", "agent_responses"),
        ("POST", r"/openai/v1/responses", "project_responses"),
        ("GET", r"/datasets", "list_datasets"),
        ("GET", _D, "list_dataset_versions"),
        ("GET", _D + r"/(?P<version>[^/:]+)", "get_dataset"),
        ("PATCH", _D + r"/(?P<version>[^/:]+)", "put_dataset"),
        ("DELETE", _D + r"/(?P<version>[^/:]+)", "delete_dataset"),
    ]
]
_NO_API_VERSION = {"project_responses"}
_DATASET_ROUTES = {"list_datasets", "list_dataset_versions", "get_dataset", "put_dataset", "delete_dataset"}


def _throttled(retry_after: int) -> FoundryError:
    return FoundryError(
        429, "too_many_requests", "Rate limit exceeded (sandbox fault).", {"Retry-After": str(retry_after)}
    )


def _failed() -> FoundryError:
    return FoundryError(
        500, "internal_error", "An internal error occurred (sandbox fault)."
    )  # get_openai_client() without agent_name: base …/openai/v1/


class FoundryServer(TLSThreadingHTTPServer):
    allow_reuse_address = True

    def __init__(
        self,
        port: int,
        *,
        plane: FoundryPlane,
        issuer: TokenIssuer,
        ssl_context: ssl.SSLContext,
        faults: FaultTable,
    ) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.plane = plane
        self.datasets = FoundryDatasets(plane)
        self.issuer = issuer
        self.ssl_context = ssl_context
        self.faults = faults
        self.exchanges: list[dict[str, Any]] = []  # last requests/answers, for spec checks in tests
        self._exchange_lock = threading.Lock()

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def project_endpoint(self, account: str, project: str) -> str:
        return f"{self.url}/{account}/api/projects/{project}"

    def close(self) -> None:
        self.shutdown()
        self.server_close()

    def remember(self, entry: dict[str, Any]) -> None:
        with self._exchange_lock:
            self.exchanges.append(entry)
            del self.exchanges[:-500]


class _Handler(JsonHandler):
    server: FoundryServer
    server_version = "genaiops-sandbox-foundry"
    log = log

    def do_GET(self) -> None:
        self._handle()

    do_POST = do_PATCH = do_DELETE = do_GET

    def _handle(self) -> None:
        started = time.monotonic()
        request = self.read_request()
        path, query, raw = request.path, request.query, request.raw
        request_id = str(uuid.uuid4())
        try:
            if self.apply_fault(path, _throttled, _failed):
                return
            answer = self._dispatch(path, query, raw)
        except FoundryError as err:
            answer = Answer(err.status, err.body(), dict(err.headers))
            if err.status == 401:
                answer.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
        except Exception:
            log.exception("unhandled error on %s %s", self.command, path)
            answer = Answer(500, FoundryError(500, "internal_error", "see the sandbox log").body())
        self._send(answer, request_id)
        self.server.remember(
            {
                "method": self.command,
                "path": path,
                "query": query,
                "request": _json_or_none(raw),
                "status": answer.status,
                "response": answer.body if not isinstance(answer.body, bytes) else None,
            }
        )
        log.info(
            "%s %s -> %d (%.0f ms)", self.command, path, answer.status, (time.monotonic() - started) * 1000
        )

    def _send(self, answer: Answer, request_id: str) -> None:
        if isinstance(answer.body, bytes):
            data = answer.body
        else:
            data = b"" if answer.body is None else json.dumps(answer.body).encode()
        self.send_response(answer.status)
        headers = {k.lower(): v for k, v in answer.headers.items()}
        if data and "content-type" not in headers:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-request-id", request_id)
        for key, value in answer.headers.items():
            self.send_header(key, value)
        self.end_headers()
        if data:
            self.wfile.write(data)

    # ------------------------------------------------------------------ routing
    def _dispatch(self, path: str, query: dict[str, str], raw: bytes) -> Answer:
        m = _PROJECT.match(path)
        if not m:
            raise FoundryError(404, "not_found", f"No Foundry project route {path}.")
        account, project, rest = m.group("account"), m.group("project"), m.group("rest") or "/"
        found = next(((h, hit) for m, p, h in ROUTES if m == self.command and (hit := p.match(rest))), None)
        if found is None:
            raise FoundryError(404, "not_found", f"No route {self.command} {rest} on a Foundry project.")
        handler, hit = found
        self._authenticate()
        if handler not in _NO_API_VERSION and query.get("api-version") != API_VERSION:
            raise FoundryError(
                400,
                "invalid_api_version",
                f"api-version '{query.get('api-version', '')}' is not supported; use '{API_VERSION}'.",
            )
        body = _json_or_none(raw, strict=True)
        plane, args = self.server.plane, (account, project)
        kw = hit.groupdict()
        name = kw.get("name", "")
        if handler in _DATASET_ROUTES:
            return self._datasets(handler, (account, project), kw, query, body, path)
        match handler:
            case "list_agents":
                return plane.list_agents(*args, query)
            case "get_agent":
                return plane.get_agent(*args, name)
            case "delete_agent":
                return plane.delete_agent(*args, name)
            case "update_agent":
                return plane.update_agent(*args, name, body)
            case "enable" | "disable":
                return plane.set_enabled(*args, name, handler == "enable")
            case "create_version":
                return plane.create_version(*args, name, body)
            case "list_versions":
                return plane.list_versions(*args, name, query)
            case "get_version":
                return plane.get_version(*args, name, kw["version"])
            case "delete_version":
                force = query.get("force", "").lower() == "true"
                return plane.delete_version(*args, name, kw["version"], force)
            case "create_session":
                return plane.create_session(*args, name, body)
            case "get_session":
                return plane.get_session(*args, name, kw["session"])
            case "delete_session" | "stop_session":
                return plane.end_session(*args, name, kw["session"], handler == "stop_session")
            case "agent_responses":
                version, where = plane.pick_upstream(*args, name, body)
                return self._proxy(version, where, body)
            case "project_responses":
                ref = (body or {}).get("agent_reference") if isinstance(body, dict) else None
                if not isinstance(ref, dict) or ref.get("type") != "agent_reference" or not ref.get("name"):
                    raise FoundryError(
                        400,
                        "invalid_request",
                        "The stand-in answers project-level responses only for hosted agents: "
                        "pass agent_reference {type: agent_reference, name, version}.",
                    )
                version, where = plane.pick_upstream(*args, ref["name"], body, ref.get("version"))
                return self._proxy(version, where, body)
        raise AssertionError(handler)

    def _datasets(
        self,
        handler: str,
        args: tuple[str, str],
        kw: dict[str, str],
        query: dict[str, str],
        body: Any,
        path: str,
    ) -> Answer:
        datasets, url = self.server.datasets, self.server.url + quote(path)  # nextLink: this URL, next page
        match handler:
            case "list_datasets":
                return datasets.list_latest(*args, query, url)
            case "list_dataset_versions":
                return datasets.list_versions(*args, kw["dataset"], query, url)
            case "get_dataset":
                return datasets.get(*args, kw["dataset"], kw["version"])
            case "put_dataset":
                content_type = self.headers.get("Content-Type") or ""
                return datasets.create_or_update(*args, kw["dataset"], kw["version"], body, content_type)
            case "delete_dataset":
                return datasets.delete(*args, kw["dataset"], kw["version"])
        raise AssertionError(handler)

    def _authenticate(self) -> None:
        scheme, _, token = (self.headers.get("Authorization") or "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise FoundryError(401, "unauthorized", "A bearer token is required.")
        claims = self.server.issuer.verify(token.strip())
        if claims is None:
            raise FoundryError(401, "unauthorized", "The access token is invalid or has expired.")
        if claims.get("aud") not in AUDIENCES:
            raise FoundryError(
                401,
                "unauthorized",
                f"The access token's audience '{claims.get('aud')}' is wrong; "
                "request it for scope https://ai.azure.com/.default.",
            )

    def _proxy(self, version: str, where: tuple[str, int], body: Any) -> Answer:
        """Forward one Responses request to the version's container (`POST /responses`), the
        agent reference removed (the container's contract knows only the Responses body)."""
        if isinstance(body, dict):
            body = {k: v for k, v in body.items() if k != "agent_reference"}
        data = json.dumps(body if body is not None else {}).encode()
        conn = http.client.HTTPConnection(where[0], where[1], timeout=UPSTREAM_TIMEOUT)
        try:
            conn.request(
                "POST",
                "/responses",
                body=data,
                headers={"Content-Type": "application/json", "Accept": self.headers.get("Accept", "*/*")},
            )
            resp = conn.getresponse()
            payload = resp.read()
        except OSError as exc:
            raise FoundryError(
                502, "agent_unreachable", f"Version '{version}' did not answer on port 8088: {exc}"
            ) from None
        finally:
            conn.close()
        headers = {VERSION_HEADER: version}
        for key in ("Content-Type", "x-agent-session-id"):
            if resp.getheader(key):
                headers[key] = resp.getheader(key) or ""
        return Answer(resp.status, payload, headers)


def _json_or_none(raw: bytes, strict: bool = False) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        if strict:
            raise FoundryError(400, "invalid_json", f"The request body is not JSON: {exc.msg}.") from None
        return None


def start_foundry(
    state_dir: Path,
    tls_dir: Path,
    *,
    port: int = 0,
    issuer: TokenIssuer,
    runtime: Any,
    faults: FaultTable,
    projects: Any,
) -> FoundryServer:
    """Bind and serve in a background thread; `projects(account, project)` says whether ARM holds
    that project."""
    cert = issue_server_cert(tls_dir, "foundry", ["127.0.0.1", "localhost"])
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(cert.cert), str(cert.key))
    plane = FoundryPlane(state_dir, runtime, projects)
    server = FoundryServer(port, plane=plane, issuer=issuer, ssl_context=context, faults=faults)
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.2}, name="sandbox-foundry", daemon=True
    ).start()
    return server
