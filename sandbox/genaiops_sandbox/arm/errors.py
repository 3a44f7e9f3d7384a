"""ARM-shaped errors: every failure the stand-in returns has Azure's `{"error": {"code", "message"}}` body."""

from __future__ import annotations

from typing import Any


class ArmError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message}}


def not_found(resource_type: str, name: str, resource_group: str | None = None) -> ArmError:
    where = f" under resource group '{resource_group}'" if resource_group else ""
    return ArmError(
        404,
        "ResourceNotFound",
        f"The Resource '{resource_type}/{name}'{where} was not found. "
        "For more details please go to https://aka.ms/ARMResourceNotFoundFix",
    )


def invalid_parameter(field: str, details: str) -> ArmError:
    # Container Apps validation failures surface as WebhookInvalidParameterValue with this wording.
    return ArmError(
        400,
        "WebhookInvalidParameterValue",
        f"The following field(s) are either invalid or missing. Field '{field}' is invalid with details: "
        f"'{details}'.",
    )


def bad_request(code: str, message: str) -> ArmError:
    return ArmError(400, code, message)
