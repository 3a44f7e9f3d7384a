"""Raw OCI distribution requests to an Azure Container Registry, with ACR's token flow done once.

azure-containerregistry's auth policy answers every request's 401 challenge with a fresh
exchange + token round trip (4 requests per operation, measured); promotion and the ledger need
original manifest bytes, single-request blob transfers and HEAD probes, cheaply. So this client
does what `docker login` + docker do: one Entra → ACR refresh-token exchange per registry
(providers/azure/acr.refresh_token), one scoped access token per repository and action set, reused
on a keep-alive connection. TLS is verified against the target's CA, as everywhere."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from genaiops_cli.core.cloud import AzureTarget
from genaiops_cli.errors import AuthError, BuildError
from genaiops_cli.providers import token_cache

MANIFEST_TYPES = ", ".join(
    [
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
    ]
)
RETRIES = 4
RETRY_STATUS = {429, 500, 502, 503, 504}
TRANSIENT_HINT = (
    "a network or registry fault (retried already); nothing half-written stays behind — re-run to continue"
)


class RawRegistry:
    def __init__(self, target: AzureTarget, login_server: str) -> None:
        import httpx

        self.target = target
        self.login_server = login_server
        self.base = f"https://{login_server}"
        self.http = httpx.Client(verify=target.verify, timeout=120, limits=httpx.Limits(max_connections=16))
        self._refresh: str | None = None
        self._tokens: dict[str, str] = {}
        self._writers: set[str] = set()  # repositories this client writes: their token is pull,push
        self._lock = threading.Lock()

    # ---- auth
    def will_write(self, repo: str) -> None:
        """Get the pull,push token for `repo` now: reads then use it too, so a read-then-write (a
        re-tag) costs one token request instead of two."""
        self._token(repo, True)

    def _token(self, repo: str, write: bool) -> str:
        with self._lock:
            write = write or repo in self._writers  # re-minted after a 401: as wide as before
            if write:
                self._writers.add(repo)
            scope = f"repository:{repo}:{'pull,push' if write else 'pull'}"
            wider = f"repository:{repo}:pull,push"  # push scope includes pull
            for known in (scope,) if write else (scope, wider):
                if known in self._tokens:
                    return self._tokens[known]
            for known in (scope,) if write else (scope, wider):  # another process's, still fresh
                if (key := self._cache_key(known)) and (
                    cached := token_cache.acr_get(key, token_cache.ACCESS_MARGIN)
                ):
                    self._tokens[known] = cached
                    return cached
            token = self._mint(scope, repo)
            self._tokens[scope] = token
            if key := self._cache_key(scope):
                token_cache.acr_put(key, token)
            return token

    def _cache_key(self, scope: str) -> str | None:
        from genaiops_cli.providers.azure import acr

        return acr.token_key(self.target, self.login_server, scope)

    def _mint(self, scope: str, repo: str) -> str:
        """A scoped access token for the refresh token; a cached refresh token the registry refuses
        (revoked, or the registry was re-created) is dropped and exchanged afresh, once."""
        from genaiops_cli.providers.azure import acr

        for fresh in (False, True):
            if self._refresh is None or fresh:
                self._refresh = acr.refresh_token(self.target, self.login_server, fresh=fresh)
            form = {
                "grant_type": "refresh_token",
                "service": self.login_server,
                "scope": scope,
                "refresh_token": self._refresh,
            }
            response = retried(
                lambda form=form: self.http.post(f"{self.base}/oauth2/token", data=form), self.login_server
            )
            if response.status_code != 401 or fresh:
                break
            acr.forget_refresh_token(self.target, self.login_server)
        if response.status_code in (401, 403):
            raise AuthError(
                f"registry {self.login_server} refused {scope.rsplit(':', 1)[1]} on {repo}",
                hint="grant AcrPull (read) or AcrPush (write) on the registry to this identity",
            )
        if response.status_code != 200:
            raise BuildError(
                f"registry {self.login_server} token request failed: HTTP {response.status_code}",
                hint=TRANSIENT_HINT,
            )
        return str(response.json()["access_token"])

    def _drop_tokens(self) -> None:
        """The registry refused an access token: forget it here and in the token cache."""
        with self._lock:
            keys = [k for scope in self._tokens if (k := self._cache_key(scope))]
            self._tokens.clear()
        if keys:
            token_cache.acr_forget(*keys)

    def send(
        self, method: str, repo: str, url: str, *, headers: dict[str, str] | None = None, content: Any = None
    ) -> Any:
        write = method not in ("GET", "HEAD")
        full = url if url.startswith("https://") else self.base + url
        refreshed = {"done": False}

        def attempt() -> Any:
            hdrs = {**(headers or {}), "Authorization": f"Bearer {self._token(repo, write)}"}
            return self.http.request(method, full, headers=hdrs, content=content)

        def again(response: Any) -> bool:
            if response.status_code == 401 and not refreshed["done"]:
                self._drop_tokens()  # expired or revoked access token: mint a new one, once
                refreshed["done"] = True
                return True
            return response.status_code in RETRY_STATUS

        def retry_after(response: Any) -> float | None:
            return 0.0 if response.status_code == 401 else retry_after_of(response)

        return retried(attempt, self.login_server, again=again, wait_hint=retry_after)

    # ---- manifests
    def get_manifest(self, repo: str, reference: str) -> tuple[bytes, str, str] | None:
        """(original bytes, media type, digest) or None when absent."""
        response = self.send(
            "GET", repo, f"/v2/{repo}/manifests/{reference}", headers={"Accept": MANIFEST_TYPES}
        )
        if response.status_code == 404:
            return None
        self._check(response, f"read manifest {repo}:{reference}")
        raw = response.content
        digest = "sha256:" + hashlib.sha256(raw).hexdigest()
        if reference.startswith("sha256:") and digest != reference:
            raise BuildError(
                f"registry {self.login_server} returned a manifest that does not match {reference}"
            )
        media_type = response.headers.get("Content-Type", "").split(";")[0].strip()
        return raw, media_type, digest

    def has_manifest(self, repo: str, reference: str) -> bool:
        response = self.send(
            "HEAD", repo, f"/v2/{repo}/manifests/{reference}", headers={"Accept": MANIFEST_TYPES}
        )
        if response.status_code == 404:
            return False
        self._check(response, f"probe manifest {repo}:{reference}")
        return True

    def put_manifest(self, repo: str, reference: str, raw: bytes, media_type: str) -> str:
        response = self.send(
            "PUT",
            repo,
            f"/v2/{repo}/manifests/{reference}",
            headers={"Content-Type": media_type},
            content=raw,
        )
        self._check(response, f"write manifest {repo}:{reference}")
        expected = "sha256:" + hashlib.sha256(raw).hexdigest()
        digest = response.headers.get("Docker-Content-Digest") or expected
        if digest != expected:
            raise BuildError(f"registry {self.login_server} stored {repo} as {digest}, expected {expected}")
        return digest

    # ---- blobs
    def has_blob(self, repo: str, digest: str) -> bool:
        response = self.send("HEAD", repo, f"/v2/{repo}/blobs/{digest}")
        if response.status_code == 404:
            return False
        self._check(response, f"probe blob {digest[:19]}")
        return True

    def get_blob(self, repo: str, digest: str) -> bytes:
        response = self.send("GET", repo, f"/v2/{repo}/blobs/{digest}")
        if response.status_code in (307, 302):  # ACR redirects blob reads to storage
            response = self.http.get(response.headers["Location"])
        self._check(response, f"read blob {digest[:19]}")
        data = response.content
        if "sha256:" + hashlib.sha256(data).hexdigest() != digest:
            raise BuildError(f"blob {digest} from {self.login_server} failed its digest check")
        return data

    def stream_blob_to(self, dst: RawRegistry, repo: str, blob: dict[str, Any]) -> int:
        """Copy one blob from this registry to `dst` as it arrives: the source's response body is
        the destination's monolithic PUT body, so download and upload overlap instead of taking
        turns (the largest layer dominates a copy). The bytes are hashed on the way; a mismatch
        aborts the PUT before its last byte, so the destination never completes the upload (and
        checks the digest itself). No retries mid-stream: on any failure the caller falls back to
        `get_blob` + `put_blob`, which retry."""
        digest, size = blob["digest"], int(blob["size"])
        location = dst.open_upload(repo, digest)
        headers = {"Authorization": f"Bearer {self._token(repo, False)}"}
        with self.http.stream("GET", f"{self.base}/v2/{repo}/blobs/{digest}", headers=headers) as got:
            if got.status_code in (307, 302):  # ACR redirects blob reads to storage
                with self.http.stream("GET", got.headers["Location"]) as moved:
                    return dst._put_stream(repo, location, digest, size, self._hashed(moved, digest))
            self._check(got, f"read blob {digest[:19]}")
            return dst._put_stream(repo, location, digest, size, self._hashed(got, digest))

    def _hashed(self, response: Any, digest: str) -> Any:
        self._check(response, f"read blob {digest[:19]}")
        hasher = hashlib.sha256()
        for chunk in response.iter_bytes():
            hasher.update(chunk)
            yield chunk
        if "sha256:" + hasher.hexdigest() != digest:
            raise BuildError(f"blob {digest} from {self.login_server} failed its digest check")

    def _put_stream(self, repo: str, location: str, digest: str, size: int, body: Any) -> int:
        joiner = "&" if "?" in location else "?"
        url = location if location.startswith("https://") else self.base + location
        headers = {
            "Authorization": f"Bearer {self._token(repo, True)}",
            "Content-Type": "application/octet-stream",
            "Content-Length": str(size),  # monolithic, not chunked: the size is in the manifest
        }
        done = self.http.request("PUT", f"{url}{joiner}digest={digest}", headers=headers, content=body)
        self._check(done, f"upload blob {digest[:19]}")
        return size

    def open_upload(self, repo: str, digest: str) -> str:
        opened = self.send("POST", repo, f"/v2/{repo}/blobs/uploads/")
        self._check(opened, f"start upload of {digest[:19]}")
        return str(opened.headers["Location"])

    def put_blob(self, repo: str, digest: str, data: bytes) -> None:
        """Monolithic upload: POST to open, one PUT with the bytes and the digest."""
        location = self.open_upload(repo, digest)
        joiner = "&" if "?" in location else "?"
        done = self.send(
            "PUT",
            repo,
            f"{location}{joiner}digest={digest}",
            headers={"Content-Type": "application/octet-stream"},
            content=data,
        )
        if done.status_code == 404 and self.has_blob(repo, digest):
            # A completion whose answer was lost, retried: the upload session is closed (404
            # BLOB_UPLOAD_UNKNOWN) because the blob arrived — content-addressed, so that is success.
            return
        self._check(done, f"upload blob {digest[:19]}")

    def tags(self, repo: str) -> list[str]:
        out: list[str] = []
        url = f"/v2/{repo}/tags/list?n=1000"
        while url:
            response = self.send("GET", repo, url)
            if response.status_code == 404:
                return out
            self._check(response, f"list tags of {repo}")
            out.extend((response.json() or {}).get("tags") or [])
            link = response.headers.get("Link", "")
            url = link.split(";")[0].strip("<> ") if 'rel="next"' in link else ""
        return out

    def _check(self, response: Any, action: str) -> None:
        if response.status_code in (401, 403):
            raise AuthError(
                f"registry {self.login_server} refused to {action} (HTTP {response.status_code})",
                hint="grant AcrPush on the registry to this identity",
            )
        if response.status_code >= 400:
            transient = response.status_code in RETRY_STATUS
            raise BuildError(
                f"registry {self.login_server}: cannot {action}: HTTP {response.status_code}",
                hint=TRANSIENT_HINT if transient else None,
            )


def retry_after_of(response: Any) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return float(value) if value else None
    except ValueError:
        return None


def retried(
    attempt: Callable[[], Any],
    login_server: str,
    *,
    again: Callable[[Any], bool] | None = None,
    wait_hint: Callable[[Any], float | None] = retry_after_of,
) -> Any:
    """`attempt` (one registry HTTP request) until it answers something other than 429/5xx and its
    connection held, RETRIES times more at most (Retry-After honoured). Every registry request goes
    through here, the token requests too: a throttled or dropped token exchange is as transient as
    a throttled manifest read. Past the retries: the last answer, or BuildError (exit 6, resumable)."""
    import httpx

    from genaiops_cli.core.retrying import backoff

    last, _ = backoff(
        attempt,
        again=again or (lambda response: response.status_code in RETRY_STATUS),
        on=(httpx.TransportError,),
        attempts=RETRIES + 1,
        first=0.2,
        most=2,
        wait_hint=wait_hint,
    )
    if isinstance(last, BaseException):
        raise BuildError(
            f"registry {login_server} unreachable: {last}",
            hint=TRANSIENT_HINT,
        ) from last
    return last


@lru_cache(maxsize=16)
def raw_registry(target: AzureTarget, login_server: str) -> RawRegistry:
    """One client (and token cache) per registry per process."""
    return RawRegistry(target, login_server)
