"""The HTTP client genaiops uses for app URLs (smoke tests, gates, probes): httpx, honouring a resolve
map (see core/resolve.py) and a CA bundle.

How the resolve map is applied: httpcore lets a connection pool take a custom *network backend* (its
public extension point for "how do I open a socket"). Ours rewrites only the TCP connect address; the
URL's host still goes into TLS SNI, certificate verification and the Host header, exactly like
`curl --resolve`. Verification stays on: against `ca_bundle` when given, else the system trust store.

httpx.HTTPTransport has no argument for a network backend, so `ResolvingTransport` builds the
httpcore pool itself and hands it to HTTPTransport's request/response plumbing (the `_pool` slot)."""

from __future__ import annotations

import ssl
from collections.abc import Iterable, Mapping
from typing import Any

import httpcore
import httpx

from genaiops_cli.core.resolve import match, resolve_address

DEFAULT_TIMEOUT = 30.0


class _ResolvingBackend(httpcore.NetworkBackend):
    def __init__(self, resolve: Mapping[str, str]) -> None:
        self._resolve = dict(resolve)
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        host, port = resolve_address(self._resolve, host, port)
        return self._inner.connect_tcp(host, port, timeout, local_address, socket_options)

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        return self._inner.connect_unix_socket(path, timeout, socket_options)

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class _AsyncResolvingBackend(httpcore.AsyncNetworkBackend):
    def __init__(self, resolve: Mapping[str, str]) -> None:
        self._resolve = dict(resolve)
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        host, port = resolve_address(self._resolve, host, port)
        return await self._inner.connect_tcp(host, port, timeout, local_address, socket_options)

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        return await self._inner.connect_unix_socket(path, timeout, socket_options)

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def ssl_context(ca_bundle: str | None) -> ssl.SSLContext:
    """Verification always on: the given CA bundle, else the system trust store."""
    ctx = ssl.create_default_context(cafile=ca_bundle) if ca_bundle else ssl.create_default_context()
    ctx.check_hostname = True
    ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


def _pool_kwargs(ctx: ssl.SSLContext, limits: httpx.Limits) -> dict[str, Any]:
    return {
        "ssl_context": ctx,
        "max_connections": limits.max_connections,
        "max_keepalive_connections": limits.max_keepalive_connections,
        "keepalive_expiry": limits.keepalive_expiry,
        "http1": True,
        "http2": False,
    }


class ResolvingTransport(httpx.HTTPTransport):
    def __init__(self, resolve: Mapping[str, str], ctx: ssl.SSLContext, limits: httpx.Limits) -> None:
        super().__init__(verify=ctx, limits=limits)
        self._pool = httpcore.ConnectionPool(
            network_backend=_ResolvingBackend(resolve), **_pool_kwargs(ctx, limits)
        )


class AsyncResolvingTransport(httpx.AsyncHTTPTransport):
    def __init__(self, resolve: Mapping[str, str], ctx: ssl.SSLContext, limits: httpx.Limits) -> None:
        super().__init__(verify=ctx, limits=limits)
        self._pool = httpcore.AsyncConnectionPool(
            network_backend=_AsyncResolvingBackend(resolve), **_pool_kwargs(ctx, limits)
        )


def _mount_pattern(pattern: str) -> str:
    # httpx's own host patterns: "*.x" matches any depth below x (as ours does), "" = every host.
    p = pattern.strip().rstrip(".").lower()
    return "all://" if p == "*" else f"all://{p}"


def http_client(
    resolve: Mapping[str, str] | None = None,
    ca_bundle: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    **client_kwargs: Any,
) -> httpx.Client:
    """An httpx.Client that connects mapped hosts to their resolve target (TLS and Host unchanged).

    Mapped hosts are mounted explicitly so an environment proxy (HTTPS_PROXY) never captures them;
    other hosts behave as in a plain httpx.Client (proxies from the environment honoured)."""
    ctx = ssl_context(ca_bundle)
    limits = client_kwargs.pop("limits", httpx.Limits())
    if not resolve:
        return httpx.Client(verify=ctx, timeout=timeout, limits=limits, **client_kwargs)
    transport = ResolvingTransport(resolve, ctx, limits)
    mounts = {_mount_pattern(p): transport for p in resolve}
    return httpx.Client(
        verify=ctx, timeout=timeout, transport=transport, mounts=mounts, limits=limits, **client_kwargs
    )


def async_http_client(
    resolve: Mapping[str, str] | None = None,
    ca_bundle: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    **client_kwargs: Any,
) -> httpx.AsyncClient:
    """The asyncio/trio twin of `http_client`."""
    ctx = ssl_context(ca_bundle)
    limits = client_kwargs.pop("limits", httpx.Limits())
    if not resolve:
        return httpx.AsyncClient(verify=ctx, timeout=timeout, limits=limits, **client_kwargs)
    transport = AsyncResolvingTransport(resolve, ctx, limits)
    mounts = {_mount_pattern(p): transport for p in resolve}
    return httpx.AsyncClient(
        verify=ctx, timeout=timeout, transport=transport, mounts=mounts, limits=limits, **client_kwargs
    )


__all__ = ["http_client", "async_http_client", "ssl_context", "match"]
