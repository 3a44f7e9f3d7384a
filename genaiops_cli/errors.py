"""The one error tree. Every expected failure is a GenAIOpsError carrying its exit code,
a stable snake_case code for machines, and a hint for humans. cli.main maps them to exits."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class ExitCode:
    OK = 0
    INTERNAL = 1
    USAGE = 2
    MANIFEST = 3
    AUTH = 4
    PROVISION = 5
    BUILD = 6
    DEPLOY = 7
    SMOKE_FAILED = 8
    GATE_FAILED = 9
    GATE_INCONCLUSIVE = 10
    LOCKED = 11
    INTERRUPTED = 130


class GenAIOpsError(Exception):
    exit_code: int = ExitCode.INTERNAL
    code: str = "internal_error"

    def __init__(
        self,
        message: str,
        hint: str | None = None,
        *,
        code: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        if code:
            self.code = code
        self.details = details or {}

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "message": self.message, "hint": self.hint}
        if self.details:
            out["details"] = self.details
        return out


class UsageError(GenAIOpsError):
    exit_code = ExitCode.USAGE
    code = "usage_error"


@dataclass(frozen=True)
class ManifestIssue:
    """One problem in a manifest, located precisely enough for an editor to jump to it."""

    message: str
    file: str
    line: int | None = None
    column: int | None = None
    path: str = ""
    hint: str | None = None

    def location(self) -> str:
        loc = self.file
        if self.line is not None:
            loc += f":{self.line}"
            if self.column is not None:
                loc += f":{self.column}"
        return loc

    def render(self) -> str:
        where = f" at {self.path}" if self.path else ""
        text = f"{self.location()}{where}: {self.message}"
        if self.hint:
            text += f" (hint: {self.hint})"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "path": self.path,
            "message": self.message,
            "hint": self.hint,
        }


class ManifestError(GenAIOpsError):
    exit_code = ExitCode.MANIFEST
    code = "manifest_invalid"

    def __init__(self, issues: list[ManifestIssue], *, code: str | None = None) -> None:
        self.issues = issues
        first = issues[0]
        count = f" (and {len(issues) - 1} more)" if len(issues) > 1 else ""
        super().__init__(
            f"{first.render()}{count}",
            hint=first.hint or "fix the manifest and run `genaiops validate`",
            code=code,
            details={"issues": [i.to_dict() for i in issues]},
        )


class AuthError(GenAIOpsError):
    exit_code = ExitCode.AUTH
    code = "auth_failed"


class ProvisionError(GenAIOpsError):
    exit_code = ExitCode.PROVISION
    code = "provision_failed"


class BuildError(GenAIOpsError):
    exit_code = ExitCode.BUILD
    code = "build_failed"


class DeployError(GenAIOpsError):
    exit_code = ExitCode.DEPLOY
    code = "deploy_failed"


class SmokeFailed(GenAIOpsError):
    exit_code = ExitCode.SMOKE_FAILED
    code = "smoke_failed"


class GateFailed(GenAIOpsError):
    exit_code = ExitCode.GATE_FAILED
    code = "gate_failed"


class GateInconclusive(GenAIOpsError):
    exit_code = ExitCode.GATE_INCONCLUSIVE
    code = "gate_inconclusive"


class LockedError(GenAIOpsError):
    exit_code = ExitCode.LOCKED
    code = "locked"


class SandboxError(GenAIOpsError):
    """The local Azure stand-in could not be started or reached."""

    exit_code = ExitCode.PROVISION
    code = "sandbox_unavailable"
