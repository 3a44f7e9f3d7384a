"""ARM-shaped template errors. Every failure of the engine is one of these, so the deployments
route can answer with Azure's `{"error": {"code", "message", "target", "details"}}` unchanged."""

from __future__ import annotations

from typing import Any

FUNCTIONS_HELP = "Please see https://aka.ms/arm-functions for usage details."
EXPRESSIONS_HELP = "Please see https://aka.ms/arm-template-expressions for usage details."


class TemplateError(Exception):
    """An InvalidTemplate (or other ARM validation) error. `target` names the failing resource when known."""

    def __init__(
        self,
        message: str,
        *,
        code: str = "InvalidTemplate",
        target: str | None = None,
        details: list[dict[str, Any]] | None = None,
        line: int | None = None,
        column: int | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.target = target
        self.details = details or []
        self.line = line
        self.column = column

    def to_arm(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.target:
            out["target"] = self.target
        if self.details:
            out["details"] = self.details
        if self.line is not None:
            out["additionalInfo"] = [
                {
                    "type": "TemplateViolation",
                    "info": {
                        "lineNumber": self.line,
                        "linePosition": self.column or 0,
                        "path": self.target or "",
                    },
                }
            ]
        return out


class ExpressionError(Exception):
    """Raised inside expression evaluation; the engine wraps it with the location ARM reports."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Deferred(Exception):
    """The value can't be known before deployment (reference to a resource not yet created, or a
    secret during what-if). What-if shows the expression text instead, exactly like ARM does."""


def unknown_function(name: str) -> ExpressionError:
    return ExpressionError(f"The template function '{name}' is not valid. {FUNCTIONS_HELP}")


def bad_arguments(name: str, detail: str) -> ExpressionError:
    return ExpressionError(
        f"Unable to evaluate template language function '{name}': {detail} {FUNCTIONS_HELP}"
    )
