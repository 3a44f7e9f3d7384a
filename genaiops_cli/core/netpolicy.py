"""Addresses genaiops never sends a request to, whatever a manifest or option says.

Cloud instance-metadata services and the link-local range hand out credentials to anything that
asks from inside the machine; a manifest from an untrusted pull request must not be able to point a
smoke check, an evaluation or a `resolve:` entry at them."""

from __future__ import annotations

import ipaddress

# Metadata endpoints outside the link-local ranges, and the names clouds give them.
METADATA_ADDRESSES = {
    ipaddress.ip_address("168.63.129.16"): "Azure's WireServer / platform metadata address",
    ipaddress.ip_address("100.100.100.200"): "a cloud instance-metadata address",
    ipaddress.ip_address("fd00:ec2::254"): "the AWS instance-metadata address (IPv6)",
}
METADATA_NAMES = (
    "metadata",
    "metadata.google.internal",
    "metadata.goog",
    "metadata.azure.com",
    "instance-data",
    "instance-data.ec2.internal",
)
LINK_LOCAL = (ipaddress.ip_network("169.254.0.0/16"), ipaddress.ip_network("fe80::/10"))


def forbidden_target(host: str) -> str | None:
    """Why `host` (a name or an IP literal) is refused as a target, or None when it is fine."""
    name = host.strip().strip("[]").rstrip(".").lower()
    if name in METADATA_NAMES or name.endswith(".metadata.google.internal"):
        return "a cloud instance-metadata name"
    try:
        address = ipaddress.ip_address(name.split("%", 1)[0])
    except ValueError:
        return None
    mapped = getattr(address, "ipv4_mapped", None)
    if mapped is not None:
        address = mapped
    if address in METADATA_ADDRESSES:
        return METADATA_ADDRESSES[address]
    if any(address in net for net in LINK_LOCAL if net.version == address.version):
        return "a link-local address (cloud instance metadata lives at 169.254.169.254)"
    return None


def check_option_targets(option_urls: dict[str, str | None], resolve: dict[str, str] | None = None) -> None:
    """Refuse (a usage error, before any network call) a command-line `--url`, or a `--resolve`
    address, that points at a metadata or link-local address."""
    from urllib.parse import urlsplit

    from genaiops_cli.errors import UsageError

    hosts = [(option, urlsplit(url).hostname or "") for option, url in option_urls.items() if url]
    for name, address in (resolve or {}).items():
        host = address.rsplit(":", 1)[0] if address.count(":") == 1 else address
        hosts.append((f"--resolve {name}", host))
    for option, host in hosts:
        why = forbidden_target(host)
        if why:
            raise UsageError(
                f"{option} points at {host}: {why}; genaiops never sends requests there",
                hint="use the service's own URL",
                code="forbidden_target",
            )
