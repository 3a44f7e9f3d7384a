"""The stand-in's HTTPS listener: ARM, the Entra-style token endpoint and the /sandbox admin routes
on one port. stdlib only (ThreadingHTTPServer + ssl); TLS is negotiated in the per-request thread
so one slow client never blocks the accept loop."""

from __future__ import annotations

import ipaddress
import json
import logging
import re
import ssl
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from ..faults import FaultRule, FaultTable
from ..json_handler import JsonHandler
from ..tls_server import TLSThreadingHTTPServer
from ..tokens import TokenIssuer
from .api import ArmApi
from .common import Response
from .entra import ClientCredentials, issue_token, openid_configuration
from .errors import ArmError

log = logging.getLogger("genaiops.sandbox.arm")


def _throttled(retry_after: int) -> ArmError:
    return ArmError(
        429,
        "TooManyRequests",
        "The request is being throttled (sandbox fault).",
        {"Retry-After": str(retry_after)},
    )


def _failed() -> ArmError:
    return ArmError(500, "InternalServerError", "An internal error occurred (sandbox fault).")


# What azure-mgmt clients request (credential_scopes default "https://management.azure.com/.default")
# and the older resource ids ARM also accepts.
ARM_AUDIENCES = {
    "https://management.azure.com",
    "https://management.azure.com/",
    "https://management.core.windows.net",
    "https://management.core.windows.net/",
}
OPENID_RE = re.compile(r"^/(?P<tenant>[^/]+)/v2\.0/\.well-known/openid-configuration$", re.IGNORECASE)
TOKEN_RE = re.compile(r"^/(?P<tenant>[^/]+)/oauth2/v2\.0/token$", re.IGNORECASE)


class ArmServer(TLSThreadingHTTPServer):
    allow_reuse_address = True

    def __init__(
        self,
        port: int,
        *,
        api: ArmApi,
        issuer: TokenIssuer,
        credentials: ClientCredentials,
        ssl_context: ssl.SSLContext,
        faults: FaultTable,
        validator: Any = None,
        validation_log: Path | None = None,
    ) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.api = api
        self.issuer = issuer
        self.credentials = credentials
        self.ssl_context = ssl_context
        self.faults = faults
        self.validator = validator
        self.validation_log = validation_log
        self._validation_lock = threading.Lock()

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def record_violations(self, entry: dict[str, Any]) -> None:
        if self.validation_log is None:
            return
        with self._validation_lock, self.validation_log.open("a") as fh:
            fh.write(json.dumps(entry) + "\n")


class _Handler(JsonHandler):
    server: ArmServer
    server_version = "genaiops-sandbox-arm"
    log = log

    def do_GET(self) -> None:
        self._handle()

    do_PUT = do_POST = do_PATCH = do_DELETE = do_HEAD = do_GET

    def _handle(self) -> None:
        started = time.monotonic()
        request = self.read_request()
        path, query, raw = request.path, request.query, request.raw
        request_id = str(uuid.uuid4())
        correlation = self.headers.get("x-ms-correlation-request-id") or request_id
        try:
            if path.startswith("/sandbox/"):
                response = self._admin(path, raw)
            else:
                if self.apply_fault(path, _throttled, _failed):
                    return
                response = self._dispatch(path, query, raw)
        except ArmError as err:
            response = Response(err.status, err.body(), dict(err.headers))
            if err.status == 401:
                base, tenant = self.server.api.base_url, self.server.credentials.tenant_id
                description = err.message.replace('"', "'")
                response.headers["WWW-Authenticate"] = (
                    f'Bearer authorization_uri="{base}/{tenant}", error="invalid_token", '
                    f'error_description="{description}"'
                )
        except Exception:
            log.exception("unhandled error on %s %s", self.command, path)
            response = Response(
                500,
                {
                    "error": {
                        "code": "InternalServerError",
                        "message": "The sandbox hit an internal error; see its log.",
                    }
                },
            )
        self._validate(path, query, raw, response)
        self._send(response, request_id, correlation)
        log.info(
            "%s %s -> %d (%.0f ms)", self.command, path, response.status, (time.monotonic() - started) * 1000
        )

    def _send(self, response: Response, request_id: str, correlation: str) -> None:
        data = b"" if response.body is None else json.dumps(response.body).encode()
        self.send_response(response.status)
        if response.body is not None:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-ms-request-id", request_id)
        self.send_header("x-ms-correlation-request-id", correlation)
        for key, value in response.headers.items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD" and data:
            self.wfile.write(data)

    def _json(self, raw: bytes) -> Any:
        if not raw:
            return None
        try:
            return json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ArmError(
                400,
                "InvalidRequestContent",
                f"The request content was invalid and could not be deserialized: {exc.msg}.",
            ) from None

    def _dispatch(self, path: str, query: dict[str, str], raw: bytes) -> Response:
        m = OPENID_RE.match(path)
        if m and self.command == "GET":
            return Response(200, openid_configuration(self.server.api.base_url, m.group("tenant")))
        m = TOKEN_RE.match(path)
        if m and self.command == "POST":
            status, body = issue_token(self.server.credentials, self.server.issuer, m.group("tenant"), raw)
            return Response(status, body, {"Cache-Control": "no-store", "Pragma": "no-cache"})
        if path.lower() == "/metadata/endpoints" and self.command == "GET":
            return Response(200, cloud_metadata(self.server.api.base_url, self.server.credentials.tenant_id))
        if path.lower().rstrip("/") == "/tenants" and self.command == "GET":
            self._authenticate()
            return self.server.api.list_tenants()
        if not path.lower().startswith("/subscriptions"):
            raise ArmError(
                404, "InvalidResourceType", f"The resource type could not be found for path '{path}'."
            )
        self._authenticate()
        return self.server.api.handle(self.command, path, query, self._json(raw))

    def _authenticate(self) -> None:
        header = self.headers.get("Authorization") or ""
        if not header:
            raise ArmError(
                401, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing."
            )
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise ArmError(
                401,
                "AuthenticationFailedInvalidHeader",
                "Authentication failed. The 'Authorization' header is provided in an invalid format.",
            )
        claims = self.server.issuer.verify(token.strip())
        if claims is None:
            raise ArmError(401, "InvalidAuthenticationToken", "The access token is invalid or has expired.")
        if claims.get("aud") not in ARM_AUDIENCES:
            raise ArmError(
                401,
                "InvalidAuthenticationTokenAudience",
                f"The access token has been obtained for wrong audience or resource '{claims.get('aud')}'. "
                "It should exactly match with one of the allowed audiences "
                "'https://management.core.windows.net/','https://management.azure.com/'.",
            )

    # admin ----------------------------------------------------------------------------------------
    def _admin(self, path: str, raw: bytes) -> Response:
        if path == "/sandbox/health" and self.command in ("GET", "HEAD"):
            return Response(200, {"status": "ok"})
        if path == "/sandbox/faults":
            if not ipaddress.ip_address(self.client_address[0]).is_loopback:
                raise ArmError(403, "Forbidden", "The fault admin endpoint only answers on loopback.")
            faults = self.server.faults
            if self.command == "GET":
                return Response(200, {"value": faults.rules()})
            if self.command == "DELETE":
                faults.clear()
                return Response(200, {"value": []})
            if self.command == "POST":
                spec = self._json(raw) or {}
                try:
                    faults.add(FaultRule(**spec))
                except (TypeError, ValueError, re.error) as exc:
                    raise ArmError(400, "InvalidFault", str(exc)) from None
                return Response(201, {"value": faults.rules()})
        raise ArmError(404, "NotFound", f"No sandbox admin route {self.command} {path}.")

    # spec validation ------------------------------------------------------------------------------
    def _validate(self, path: str, query: dict[str, str], raw: bytes, response: Response) -> None:
        validator = self.server.validator
        if validator is None or not path.lower().startswith("/subscriptions"):
            return
        try:
            request_body = json.loads(raw) if raw else None
        except json.JSONDecodeError:
            request_body = None
        try:
            violations = validator.check(
                self.command,
                path,
                query.get("api-version", ""),
                request_body,
                response.status,
                response.body,
                dict(response.headers),
            )
        except Exception as exc:
            log.exception("spec validation crashed")
            violations = [f"validator error: {exc!r}"]
        if violations:
            self.server.record_violations(
                {"method": self.command, "path": path, "status": response.status, "violations": violations}
            )


def cloud_metadata(base_url: str, tenant_id: str) -> dict[str, Any]:
    """ARM's cloud metadata document (`GET /metadata/endpoints`), what `az cloud register
    --endpoint-resource-manager` reads first: login endpoint and token audience are the stand-in."""
    return {
        "name": "GenaiopsSandbox",
        "resourceManager": base_url + "/",
        "portal": base_url + "/",
        "gallery": base_url + "/",
        "graph": base_url + "/",
        "graphAudience": base_url + "/",
        "sqlManagement": base_url + "/",
        "batch": base_url + "/",
        "media": base_url + "/",
        "activeDirectoryDataLake": base_url + "/",
        "vmImageAliasDoc": base_url + "/",
        "authentication": {
            "loginEndpoint": base_url + "/",
            "audiences": ["https://management.azure.com/", "https://management.core.windows.net/"],
            "tenant": tenant_id,
            "identityProvider": "AAD",
        },
        "suffixes": {
            "acrLoginServer": "azurecr.io",
            "storage": "core.windows.net",
            "keyVaultDns": "vault.azure.net",
            "sqlServerHostname": "database.windows.net",
            "azureDataLakeStoreFileSystem": "azuredatalakestore.net",
            "azureDataLakeAnalyticsCatalogAndJob": "azuredatalakeanalytics.net",
        },
    }
