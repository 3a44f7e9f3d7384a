"""Waiting and retrying, in one place and through one well-kept library (tenacity): polling a
state until it is ready within a deadline, and retrying a call with backoff while its answer says
"try again". tenacity is imported when a wait starts, never on the `--help` path."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def poll(
    check: Callable[[], T | None],
    *,
    timeout: float,
    interval: float,
    on_timeout: Callable[[], Exception],
    sleep: Callable[[float], None] = time.sleep,
    first: float | None = None,
) -> T:
    """Call `check` until it returns something other than None (returned) or raises (propagated);
    after `timeout` seconds raise `on_timeout()`. The pauses start at `first` (default a tenth of
    `interval`) and double up to `interval`: what is polled is often ready within a moment (a
    revision whose long-running operation just finished), and a fixed `interval` would make every
    such wait last a whole interval; a long wait still costs one check per `interval`."""
    import tenacity

    def give_up(state: tenacity.RetryCallState) -> Any:
        raise on_timeout()

    start = interval / 10 if first is None else min(first, interval)
    retrying = tenacity.Retrying(
        retry=tenacity.retry_if_result(lambda result: result is None),
        wait=tenacity.wait_exponential(multiplier=start, min=start, max=interval),
        stop=tenacity.stop_after_delay(timeout),
        sleep=sleep,
        retry_error_callback=give_up,
    )
    result = retrying(check)
    assert result is not None  # tenacity only returns a result the retry predicate accepted
    return result


def backoff(
    call: Callable[[], T],
    *,
    again: Callable[[T], bool] = lambda _: False,
    on: tuple[type[BaseException], ...] = (),
    attempts: int | None = None,
    within: float | None = None,
    first: float = 0.25,
    most: float = 4.0,
    wait_hint: Callable[[T], float | None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[T | BaseException, int]:
    """Call `call` until its result does not need `again` and it raises none of `on`, waiting
    `first`, 2×, 4× … up to `most` seconds between tries (or what `wait_hint` reads from the last
    result, e.g. Retry-After). Stops after `attempts` tries, or before a wait would pass `within`
    seconds. Returns (the last result, or the exception of the last try; the number of tries).
    An exception not in `on` propagates at once."""
    import tenacity

    exponential = tenacity.wait_exponential(multiplier=first, max=most)

    def wait(state: tenacity.RetryCallState) -> float:
        outcome = state.outcome
        if wait_hint is not None and outcome is not None and not outcome.failed:
            hinted = wait_hint(outcome.result())
            if hinted is not None:
                return hinted
        return float(exponential(state))

    stops: list[tenacity.stop.stop_base] = []
    if attempts is not None:
        stops.append(tenacity.stop_after_attempt(attempts))
    if within is not None:
        stops.append(tenacity.stop_before_delay(within))
    retrying = tenacity.Retrying(
        retry=tenacity.retry_if_exception_type(on) | tenacity.retry_if_result(again),
        wait=wait,
        stop=tenacity.stop_any(*stops) if stops else tenacity.stop_never,
        sleep=sleep,
        retry_error_callback=lambda state: state.outcome,
    )
    result = retrying(call)
    tries = int(retrying.statistics.get("attempt_number", 1))
    if isinstance(result, tenacity.Future):  # gave up: the last outcome
        return (result.exception() or result.result()), tries
    return result, tries
