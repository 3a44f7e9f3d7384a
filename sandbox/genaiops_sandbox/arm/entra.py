"""A minimal Entra-style (Azure AD v2) token endpoint so azure-identity's ClientSecretCredential
works unchanged against the stand-in: `authority=<arm endpoint>`, `disable_instance_discovery=True`.

MSAL first reads `/{tenant}/v2.0/.well-known/openid-configuration` (it needs
`authorization_endpoint` and `token_endpoint`; the tenant is parsed from the token endpoint path),
then POSTs the client-credentials grant to `/{tenant}/oauth2/v2.0/token`."""

from __future__ import annotations

import hmac
import json
import secrets
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from ..tokens import TokenIssuer

CLIENT_FILE = "client.json"
CLIENT_SECRET_FILE = "client-secret"
TOKEN_TTL = 3600


@dataclass(frozen=True)
class ClientCredentials:
    tenant_id: str
    client_id: str
    subscription_id: str
    secret_file: Path

    def secret(self) -> str:
        return self.secret_file.read_text().strip()


def ensure_client_credentials(state_dir: Path) -> ClientCredentials:
    """Generated once; the secret sits in its own 0600 file and is never printed."""
    state_dir.mkdir(parents=True, exist_ok=True)
    meta_path = state_dir / CLIENT_FILE
    secret_path = state_dir / CLIENT_SECRET_FILE
    if not meta_path.exists():
        meta = {
            "tenant_id": str(uuid.uuid4()),
            "client_id": str(uuid.uuid4()),
            "subscription_id": str(uuid.uuid4()),
        }
        meta_path.write_text(json.dumps(meta, indent=2))
    if not secret_path.exists():
        secret_path.write_text(secrets.token_urlsafe(32))
        secret_path.chmod(0o600)
    meta = json.loads(meta_path.read_text())
    return ClientCredentials(meta["tenant_id"], meta["client_id"], meta["subscription_id"], secret_path)


def openid_configuration(base_url: str, tenant: str) -> dict[str, Any]:
    issuer = f"{base_url}/{tenant}/v2.0"
    return {
        "issuer": issuer,
        "authorization_endpoint": f"{base_url}/{tenant}/oauth2/v2.0/authorize",
        "token_endpoint": f"{base_url}/{tenant}/oauth2/v2.0/token",
        "device_authorization_endpoint": f"{base_url}/{tenant}/oauth2/v2.0/devicecode",
        "jwks_uri": f"{base_url}/{tenant}/discovery/v2.0/keys",
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": [
            "client_secret_post",
            "private_key_jwt",
            "client_secret_basic",
        ],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "tenant_region_scope": "NA",
    }


def _aad_error(code: str, description: str, status: int = 400) -> tuple[int, dict[str, Any]]:
    return status, {
        "error": code,
        "error_description": description,
        "error_codes": [],
        "trace_id": str(uuid.uuid4()),
        "correlation_id": str(uuid.uuid4()),
    }


def issue_token(
    creds: ClientCredentials, issuer: TokenIssuer, tenant: str, form_body: bytes
) -> tuple[int, dict[str, Any]]:
    """Client-credentials grant. Returns (status, JSON body) in Entra's shape."""
    form = {k: v[0] for k, v in parse_qs(form_body.decode("utf-8", "replace")).items()}
    if tenant.lower() != creds.tenant_id.lower():
        return _aad_error("invalid_request", f"AADSTS90002: Tenant '{tenant}' not found.")
    if form.get("grant_type") != "client_credentials":
        return _aad_error(
            "unsupported_grant_type", "AADSTS70003: The app requested an unsupported grant type."
        )
    if form.get("client_id", "").lower() != creds.client_id.lower():
        return _aad_error(
            "unauthorized_client",
            f"AADSTS700016: Application with identifier '{form.get('client_id')}' was not found.",
        )
    if not hmac.compare_digest(form.get("client_secret", ""), creds.secret()):
        return _aad_error("invalid_client", "AADSTS7000215: Invalid client secret provided.", 401)
    scopes = [s for s in form.get("scope", "").split() if s not in ("openid", "profile", "offline_access")]
    if len(scopes) != 1 or not scopes[0].endswith("/.default"):
        return _aad_error(
            "invalid_scope",
            "AADSTS1002012: The provided value for scope is not valid. "
            "Client credential flows must have a scope value with /.default suffixed.",
        )
    audience = scopes[0][: -len("/.default")]
    token, _expires = issuer.issue(
        {
            "aud": audience,
            "tid": creds.tenant_id,
            "appid": creds.client_id,
            "sub": creds.client_id,
            "oid": creds.client_id,
            "idtyp": "app",
        },
        ttl_seconds=TOKEN_TTL,
    )
    return 200, {
        "token_type": "Bearer",
        "expires_in": TOKEN_TTL,
        "ext_expires_in": TOKEN_TTL,
        "access_token": token,
    }
