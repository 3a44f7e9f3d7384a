"""A resolve map: host pattern → address, like `curl --resolve`, for names the local DNS cannot (or
must not) answer — the sandbox's app URLs, private endpoints, split-horizon DNS.

    {"*.sandbox.genaiops.test": "127.0.0.1:8443", "app.example.com": "10.0.0.5"}

Matching rules (pure, case-insensitive, a trailing dot ignored):
- an exact host beats any wildcard;
- `*.domain` matches any name *below* `domain`, at any depth (`a.domain`, `a.b.domain`) but not
  `domain` itself — any depth because Container Apps also has `<app>.internal.<domain>`;
- among wildcards the longest (most specific) suffix wins;
- a lone `*` matches every host, with the lowest priority.
The target is `address[:port]`; without a port the URL's own port is kept. IPv6 as `[::1]:443`.
The URL's host still drives TLS (SNI, certificate check) and the Host header: only the TCP connect
goes elsewhere."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Target:
    host: str
    port: int | None  # None = keep the port of the URL


def _norm(host: str) -> str:
    return host.strip().rstrip(".").lower()


def parse_target(value: str) -> Target:
    """`"10.0.0.5"`, `"10.0.0.5:443"`, `"[::1]:443"`, `"[::1]"` → Target."""
    text = value.strip()
    if not text:
        raise ValueError("empty resolve target")
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise ValueError(f"bad resolve target {value!r}: unclosed '['")
        host, rest = text[1:end], text[end + 1 :]
        if not rest:
            return Target(host, None)
        if not rest.startswith(":"):
            raise ValueError(f"bad resolve target {value!r}")
        return Target(host, _port(rest[1:], value))
    if text.count(":") == 1:
        host, port = text.split(":")
        return Target(host, _port(port, value))
    return Target(text, None)  # a name, an IPv4 address, or a bare IPv6 address


def _port(text: str, value: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ValueError(f"bad port in resolve target {value!r}")
    return int(text)


def validate(resolve: Mapping[str, str]) -> list[str]:
    """Human-readable problems with a resolve map (empty list = fine); used by manifest validation."""
    problems: list[str] = []
    for pattern, target in resolve.items():
        p = _norm(pattern)
        if not p:
            problems.append("empty host pattern")
        elif "*" in p and p != "*" and not (p.startswith("*.") and "*" not in p[2:] and len(p) > 2):
            problems.append(f"{pattern!r}: a wildcard must be '*' or a leading '*.' label")
        try:
            parse_target(target)
        except ValueError as exc:
            problems.append(f"{pattern!r}: {exc}")
    return problems


def match(resolve: Mapping[str, str] | None, host: str) -> str | None:
    """The pattern of `resolve` that applies to `host`, or None."""
    if not resolve:
        return None
    h = _norm(host)
    best: str | None = None
    best_rank = -1
    for pattern in resolve:
        p = _norm(pattern)
        if p == h:
            return pattern  # exact always wins
        if p == "*":
            rank = 0
        elif p.startswith("*.") and h.endswith(p[1:]) and len(h) > len(p) - 1:
            rank = len(p)  # longer suffix = more specific
        else:
            continue
        if rank > best_rank:
            best, best_rank = pattern, rank
    return best


def resolve_address(resolve: Mapping[str, str] | None, host: str, port: int) -> tuple[str, int]:
    """Where to open the TCP connection for `host:port`; unchanged when nothing matches."""
    pattern = match(resolve, host)
    if pattern is None or resolve is None:
        return host, port
    target = parse_target(resolve[pattern])
    return target.host, target.port if target.port is not None else port
