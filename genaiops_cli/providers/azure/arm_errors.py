"""Turning azure-core exceptions into GenAIOpsErrors with ARM's own code and message."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from genaiops_cli.errors import AuthError, GenAIOpsError


@contextmanager
def arm_errors(action: str, error_type: type[GenAIOpsError], hint: str | None = None) -> Iterator[None]:
    from azure.core.exceptions import (
        ClientAuthenticationError,
        HttpResponseError,
        ServiceRequestError,
        ServiceResponseError,
    )

    try:
        yield
    except ClientAuthenticationError as exc:
        raise AuthError(
            f"{action}: not authorised ({_message(exc)})",
            hint="check the sign-in (az login / service principal) and its role assignments",
        ) from exc
    except HttpResponseError as exc:
        code = getattr(getattr(exc, "error", None), "code", None) or (
            exc.status_code and f"HTTP{exc.status_code}"
        )
        transient = exc.status_code == 429 or (exc.status_code or 0) >= 500
        raise error_type(
            f"{action}: {code}: {_message(exc)}",
            hint=hint
            or (
                "Azure throttled or failed the request after retries: re-run the command; it reads "
                "back what happened and continues where it stopped"
                if transient
                else None
            ),
            details={"arm_code": code, "status": exc.status_code},
        ) from exc
    except ServiceRequestError as exc:
        raise error_type(
            f"{action}: cannot reach Azure ({exc})", hint="check the network or `genaiops sandbox status`"
        ) from exc
    except ServiceResponseError as exc:  # the request went out, the answer did not come back
        raise error_type(
            f"{action}: the connection dropped before Azure answered; the outcome is unknown ({exc})",
            hint="re-run the command: it reads back what happened and converges",
            code="outcome_unknown",
        ) from exc


def _message(exc: Exception) -> str:
    error = getattr(exc, "error", None)
    message = getattr(error, "message", None) or getattr(exc, "message", None) or str(exc)
    return str(message).splitlines()[0] if message else type(exc).__name__


def wait_lro(
    poller: object,
    timeout: float,
    action: str,
    error_type: type[GenAIOpsError],
    on_tick: Callable[[], None] | None = None,
) -> object:
    """Wait for an LROPoller with a deadline: a stuck operation becomes a clear error, never a hang."""
    import time

    deadline = time.monotonic() + timeout
    while not poller.done():  # type: ignore[attr-defined]
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise error_type(
                f"{action}: still running after {timeout:.0f}s",
                hint="the operation may finish later; re-run the command to pick it up",
            )
        poller.wait(min(1.0, remaining))  # type: ignore[attr-defined]
        if on_tick:
            on_tick()
    return poller.result()  # type: ignore[attr-defined]
