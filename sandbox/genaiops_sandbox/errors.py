"""The stand-in's one error type. It carries a stable code and a hint for the person who started
it; the genaiops CLI turns it into its own sandbox error (exit 5) at the command boundary."""

from __future__ import annotations


class SandboxError(Exception):
    """The stand-in could not be started, reached or stopped."""

    code = "sandbox_unavailable"

    def __init__(self, message: str, hint: str | None = None, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        if code:
            self.code = code
