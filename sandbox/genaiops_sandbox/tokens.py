"""Bearer tokens of the stand-in: compact HS256 JWTs signed with a secret kept in the state dir.

The Entra-style token endpoint, the ARM endpoint and the ACR front all use this one issuer, so a
token minted for `https://management.azure.com/.default` is accepted by ARM and can be exchanged
at the ACR front for a registry refresh token, as with Azure."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from pathlib import Path
from typing import Any

SECRET_FILE = "token-secret"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenIssuer:
    def __init__(self, state_dir: Path) -> None:
        state_dir.mkdir(parents=True, exist_ok=True)
        secret_path = state_dir / SECRET_FILE
        if not secret_path.exists():
            secret_path.write_bytes(secrets.token_bytes(32))
            secret_path.chmod(0o600)
        self._secret = secret_path.read_bytes()

    def issue(self, claims: dict[str, Any], ttl_seconds: int = 3600) -> tuple[str, int]:
        """Return (token, expires_on epoch seconds)."""
        now = int(time.time())
        body = {"iat": now, "nbf": now - 5, "exp": now + ttl_seconds, "iss": "genaiops-sandbox", **claims}
        header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        payload = _b64(json.dumps(body, separators=(",", ":"), sort_keys=True).encode())
        signing_input = f"{header}.{payload}".encode()
        signature = _b64(hmac.new(self._secret, signing_input, hashlib.sha256).digest())
        return f"{header}.{payload}.{signature}", body["exp"]

    def verify(self, token: str, audience: str | None = None) -> dict[str, Any] | None:
        """Claims of a valid, unexpired token (optionally for `audience`), else None."""
        try:
            header, payload, signature = token.split(".")
            expected = _b64(hmac.new(self._secret, f"{header}.{payload}".encode(), hashlib.sha256).digest())
            if not hmac.compare_digest(expected, signature):
                return None
            claims: dict[str, Any] = json.loads(_unb64(payload))
        except (ValueError, json.JSONDecodeError):
            return None
        if claims.get("exp", 0) < time.time():
            return None
        if audience is not None and claims.get("aud") != audience:
            return None
        return claims
