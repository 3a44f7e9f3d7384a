"""Resource-name rules and enum spelling, checked the way Azure checks them.

Names: Microsoft's "Naming rules and restrictions for Azure resources" table, with the error codes
and message shapes the services answer (ContainerAppInvalidName is verbatim from Container Apps;
see docs/sandbox-arm-differences.md for the codes that are modelled rather than observed).
Names are only checked on create: a GET of a badly named resource is an ordinary 404, as in ARM.

Enums: the Container Apps and ACR specs mark their enums `x-ms-enum.modelAsString`, and the services
compare them case-insensitively (`activeRevisionsMode: "single"` in Microsoft's own Bicep samples
means Single). The stand-in stores the canonical spelling, as Azure echoes it back."""

from __future__ import annotations

import re
from typing import Any

from .errors import bad_request

_DNS_NAME = re.compile(r"^[a-z][a-z0-9-]*[a-z0-9]$")
_RG_CHARS = re.compile(r"[\w\-.()]", re.UNICODE)


def _dns_style(name: str, longest: int) -> bool:
    return 2 <= len(name) <= longest and bool(_DNS_NAME.match(name)) and "--" not in name


def check_container_app_name(name: str) -> None:
    if not _dns_style(name, 32):
        raise bad_request(
            "ContainerAppInvalidName",
            f"Invalid ContainerApp name '{name}'. A name must consist of lower case alphanumeric "
            "characters or '-', start with an alphabetic character, and end with an alphanumeric "
            "character and cannot have '--'. The length must be between 2 and 32 characters inclusive.",
        )


def check_job_name(name: str) -> None:
    if not _dns_style(name, 32):
        raise bad_request(
            "ContainerAppJobInvalidName",
            f"Invalid ContainerAppJob name '{name}'. A name must consist of lower case alphanumeric "
            "characters or '-', start with an alphabetic character, and end with an alphanumeric "
            "character and cannot have '--'. The length must be between 2 and 32 characters inclusive.",
        )


def check_environment_name(name: str) -> None:
    if not _dns_style(name, 60):
        raise bad_request(
            "ManagedEnvironmentInvalidName",
            f"Invalid ManagedEnvironment name '{name}'. A name must consist of lower case alphanumeric "
            "characters or '-', start with an alphabetic character, and end with an alphanumeric "
            "character and cannot have '--'. The length must be between 2 and 60 characters inclusive.",
        )


def check_registry_name(name: str) -> None:
    if not re.fullmatch(r"[A-Za-z0-9]{5,50}", name):
        raise bad_request(
            "InvalidRegistryName",
            f"Invalid registry name '{name}'. Resource names may contain alpha numeric characters "
            "only and must be between 5 and 50 characters.",
        )


def check_resource_group_name(name: str) -> None:
    bad = "".join(sorted({c for c in name if not _RG_CHARS.match(c)}))
    if bad:
        raise bad_request(
            "InvalidResourceGroup",
            f"The provided resource group name '{name}' has these invalid characters: '{bad}'. "
            "The name can only be a letter, digit, '-', '.', '(', ')' or '_'.",
        )
    if not 1 <= len(name) <= 90 or name.endswith("."):
        raise bad_request(
            "InvalidResourceGroup",
            f"The provided resource group name '{name}' is invalid: it must be 1 to 90 characters "
            "long and cannot end with a period.",
        )


# ------------------------------------------------------------------------------------- enums


def canonical(value: Any, allowed: tuple[str, ...]) -> Any:
    """`allowed`'s spelling of `value` when they match case-insensitively; other values unchanged
    (modelAsString enums are open, so the service decides what an unknown value means)."""
    if isinstance(value, str):
        for choice in allowed:
            if choice.lower() == value.lower():
                return choice
    return value


REVISIONS_MODES = ("Single", "Multiple", "Labels")
TRANSPORTS = ("auto", "http", "http2", "tcp")
PROBE_TYPES = ("Liveness", "Readiness", "Startup")
PROBE_SCHEMES = ("HTTP", "HTTPS")
TRIGGER_TYPES = ("Manual", "Schedule", "Event")


def normalize_app_enums(config: dict[str, Any], template: dict[str, Any]) -> None:
    """Canonical spelling of the enums a container app's writes carry, in place."""
    if "activeRevisionsMode" in config:
        config["activeRevisionsMode"] = canonical(config["activeRevisionsMode"], REVISIONS_MODES)
    ingress = config.get("ingress")
    if isinstance(ingress, dict) and "transport" in ingress:
        ingress["transport"] = canonical(ingress["transport"], TRANSPORTS)
    normalize_probes(template)


def normalize_probes(template: dict[str, Any]) -> None:
    for container in template.get("containers") or []:
        for probe in container.get("probes") or []:
            if "type" in probe:
                probe["type"] = canonical(probe["type"], PROBE_TYPES)
            get = probe.get("httpGet")
            if isinstance(get, dict) and "scheme" in get:
                get["scheme"] = canonical(get["scheme"], PROBE_SCHEMES)
