"""Traffic moves over several services — `swap` and `rollback` — all or none.

Each service moves in a traffic write of its own, so a failure on a later service (a 500 or a
dropped connection on its app PATCH or operation poll, a staged revision that is not healthy, a
previous revision that does not start) would leave the services before it moved and the rest not:
two releases live at once, and nothing in the ledger saying so. Here:

- a move that raised is read back first: its write may have landed all the same (then it counts
  as done, as promote's swap step does with an unknown outcome);
- one that did not land undoes the moves before it: each of those services goes back, in one
  rollback write, to the revision it served before (a rollback after a swap returns to the old live
  revision; a rollback after a rollback returns forward), with its release tags as they were, and
  what it serves is read back before anything is reported;
- the attempt goes into history as failed, with `details.undone` per service, and the error is a
  DeployError (exit 7): every service back where it was — or, when an undo itself failed, what
  each service serves as read back, and how to fix it (`rollback` of that service, then `repair`).

After an undone swap each service moved back has its new revision staged again (when the image
still gives that very revision), so a re-run of `swap` retries at once; otherwise `deploy` first."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from genaiops_cli.core.ports import PREVIOUS_RELEASE_TAG, RELEASE_TAG
from genaiops_cli.errors import DeployError, ExitCode, GenAIOpsError

if TYPE_CHECKING:
    from genaiops_cli.core.environment import Environment
    from genaiops_cli.core.ports import EventFn, LiveService

UNDO_TIMEOUT = 120.0
UNDO_ATTEMPTS = 2  # one more write after the SDK's own retries gave up: an undo is worth a second try
UNREADABLE = "(unreadable)"


@dataclass
class Move:
    """One traffic move over `services`: what each served before and what it should serve after."""

    verb: str  # swap | rollback
    services: list[str]
    before: dict[str, LiveService]
    wanted: dict[str, str | None]
    # after a canary that passed, the services not moved yet still split traffic: back to stable
    unsplit: Callable[[str], None] | None = None
    # swap: the staged image per service, to stage it again beside live once a service is moved back
    restage: dict[str, str | None] = field(default_factory=dict)
    restaged: list[str] = field(default_factory=list)

    def was(self, service: str) -> str | None:
        return self.before[service].live


def plan_swap(env: Environment, services: list[str]) -> Move:
    now = {n: env.host(n).current(n) for n in services}
    return Move("swap", list(services), now, {n: i.staged for n, i in now.items()})


def plan_rollback(env: Environment, services: list[str]) -> Move:
    now = {n: env.host(n).current(n) for n in services}
    return Move("rollback", list(services), now, {n: i.previous for n, i in now.items()})


def swap_all(
    env: Environment,
    move: Move,
    on_event: EventFn,
    gates: list[dict[str, Any]] | None = None,
    forced: str | None = None,
) -> list[dict[str, Any]]:
    """Every service's staged side to 100 %, or none; a failure is in history as a failed swap
    (with the gates that passed and the override, when forced)."""
    from genaiops_cli.core.side_doors import release_of

    measured = release_of(env, move.services, "staged")  # before it moves: what was attempted
    move.restage = {n: d.get("image") for n, d in measured[1].items()}
    try:
        return move_all(env, move, lambda n: env.host(n).swap(n, on_event), on_event)
    except GenAIOpsError as exc:
        record_failed(env, move, exc, measured, gates or [], forced)
        raise
    except KeyboardInterrupt:
        record_failed(env, move, _interrupted(move), measured, gates or [], forced)
        raise


def rollback_all(env: Environment, move: Move, timeout: float, on_event: EventFn) -> list[dict[str, Any]]:
    """Every service back to its previous revision, or none; a failure is in history as a failed
    rollback."""
    from genaiops_cli.core.reconcile import release_at

    detail = {n: {"revision": move.wanted[n], "rolled_back_from": move.was(n)} for n in move.services}
    measured = (release_at(env, move.wanted) or "unknown", detail)
    try:
        return move_all(env, move, lambda n: env.host(n).rollback(n, timeout, on_event), on_event)
    except GenAIOpsError as exc:
        record_failed(env, move, exc, measured, [], None)
        raise
    except KeyboardInterrupt:
        record_failed(env, move, _interrupted(move), measured, [], None)
        raise


def _interrupted(move: Move) -> GenAIOpsError:
    return GenAIOpsError(
        f"interrupted during the {move.verb}: the services already moved were moved back", code="interrupted"
    )


def record_failed(
    env: Environment,
    move: Move,
    exc: GenAIOpsError,
    measured: tuple[str, dict[str, dict[str, Any]]],
    gates: list[dict[str, Any]],
    forced: str | None,
) -> None:
    """The failed attempt into history (`error.details.undone`: what was moved back); the entry's
    tag and release go into the error's details. Best effort: a ledger that cannot be written
    leaves the failure to report, saying so."""
    from genaiops_cli.core.side_doors import record

    before = {n: move.was(n) for n in move.services}
    error = {"step": move.verb, **exc.to_dict()}
    try:
        rid, tag = record(env, move.verb, move.services, "failed", gates, forced, before, measured, error)
    except GenAIOpsError as write:
        exc.details = {**(exc.details or {}), "history": f"not written: {write.message}"}
        return
    exc.details = {**(exc.details or {}), "release": rid, "ledger": tag}


def move_all(
    env: Environment, move: Move, step: Callable[[str], dict[str, Any]], on_event: EventFn
) -> list[dict[str, Any]]:
    """`step` each service in order; the first one that fails and did not land undoes the ones
    before it and raises the DeployError that says so (details: failed_service, cause, undone,
    serving)."""
    results: list[dict[str, Any]] = []
    for name in move.services:
        try:
            results.append(step(name))
        except KeyboardInterrupt:  # Ctrl-C/SIGTERM between two writes: leave it as it was found
            landed = [name] if move.wanted[name] and _serving(env, name) == move.wanted[name] else []
            moved = [r["service"] for r in results] + landed
            undo(env, move, moved, on_event, restage=False)  # quick: a second signal ends it all
            _unsplit(move, moved, on_event)
            raise
        except Exception as exc:  # whatever failed, the services moved before go back
            serving = _serving(env, name)
            wanted = move.wanted[name]
            if wanted is None or serving != wanted:
                error = _undo_and_explain(
                    env, move, [r["service"] for r in results], name, exc, serving, on_event
                )
                if error is exc:
                    raise
                raise error from exc
            on_event(name, f"the {move.verb} reported an error ({_code(exc)}) but {wanted} serves: it landed")
            results.append(_landed(move, name, exc))
    return results


def _landed(move: Move, name: str, exc: Exception) -> dict[str, Any]:
    """The result of a move whose answer was an error but whose write landed (read back)."""
    was = move.was(name)
    return {
        "service": name,
        "app": move.before[name].app,
        "live": move.wanted[name],
        "previous": was,
        "rolled_back_from": was,
        "read_back": _message(exc),
    }


def _undo_and_explain(
    env: Environment,
    move: Move,
    moved: list[str],
    failed: str,
    exc: Exception,
    serving: str | None,
    on_event: EventFn,
) -> GenAIOpsError:
    undone, now = undo(env, move, moved, on_event)
    _unsplit(move, moved, on_event)
    now[failed] = serving or UNREADABLE
    for name in move.services:
        now.setdefault(name, move.was(name) or "")  # not reached: untouched
    cause = f"{move.verb} failed for {failed} in {env.name}: {_message(exc).rstrip('. ')}"
    details: dict[str, Any] = {
        "failed_service": failed,
        "cause": exc.to_dict() if isinstance(exc, GenAIOpsError) else {"message": _message(exc)},
        "undone": undone,
        "serving": now,
        "before": {n: move.was(n) for n in move.services},
    }
    stuck = [n for n, done in undone.items() if done != "rolled back"]
    unknown = serving is None or (serving != move.was(failed))
    if not moved and not unknown and isinstance(exc, GenAIOpsError) and exc.exit_code != ExitCode.INTERNAL:
        exc.details = {**(exc.details or {}), **details}  # nothing moved: the error as it was
        return exc
    if not stuck and not unknown:
        what = f"{', '.join(moved)} moved back, so " if moved else "nothing moved: "
        return DeployError(
            f"{cause}; {what}every service serves what it served before",
            hint=_retry_hint(env.name, move, moved),
            code=f"{move.verb}_failed",
            details=details,
        )
    off = [*stuck, *([failed] if unknown else [])]
    where = ", ".join(f"{n} serves {now[n]} (before: {move.was(n) or 'nothing'})" for n in off)
    return DeployError(
        f"{cause}; undoing it did not restore every service: {where}",
        hint=f"put each back with `genaiops rollback -e {env.name} SERVICE` (check with "
        f"`genaiops status -e {env.name}`), then `genaiops repair -e {env.name}` brings the records in line",
        code="undo_failed",
        details=details,
    )


def _retry_hint(env: str, move: Move, moved: list[str]) -> str:
    history = f"`genaiops history -e {env}` has the attempt"
    if move.verb != "swap":
        return f"fix what failed and run `genaiops rollback -e {env}` again; {history}"
    if all(n in move.restaged for n in moved):  # every service is staged as it was found
        return f"fix what failed and run `genaiops swap -e {env}` again; {history}"
    return (
        f"fix what failed, then `genaiops deploy -e {env}` stages the release again where the undo "
        f"took it off, and `genaiops swap -e {env}` retries; {history}"
    )


def undo(
    env: Environment, move: Move, moved: list[str], on_event: EventFn, restage: bool = True
) -> tuple[dict[str, str], dict[str, str]]:
    """Each moved service back to what it served before, read back: ({service: "rolled back" |
    "undo failed"}, {service: what it serves now}); after a swap, its new revision staged again."""
    undone: dict[str, str] = {}
    serving: dict[str, str] = {}
    for name in reversed(moved):
        was = move.was(name)
        on_event(name, f"undoing the {move.verb}: back to {was}")
        now = _roll_back(env, name, was, on_event)
        serving[name] = now.live or "" if now is not None else UNREADABLE
        if now is not None and now.live == was:
            _restore_release_tags(env, move, name, now, on_event)
            undone[name] = "rolled back"
            if restage:
                _restage(env, move, name, on_event)
        else:
            undone[name] = "undo failed"
    return undone, serving


def _restage(env: Environment, move: Move, name: str, on_event: EventFn) -> None:
    """After a swap is undone the service has nothing staged and the new revision as its previous
    one: stage that very revision again beside live, as the swap found it — a re-run of `swap`
    retries at once, and a `rollback` cannot take the service to it. Only when the image still
    gives that revision (the configuration unchanged: a deploy would otherwise create a new one).
    Best effort: the service already serves what it served before."""
    image, wanted = move.restage.get(name), move.wanted[name]
    host = env.host(name)
    try:
        if not image or host.expected_revision(name, image) != wanted:
            return
        host.deploy(name, image, UNDO_TIMEOUT, on_event)
        if host.current(name).staged == wanted:
            move.restaged.append(name)
    except Exception as exc:  # it serves what it served; `deploy` stages the release again
        on_event(name, f"undo: {wanted} was not staged again ({_code(exc)})")


def _roll_back(env: Environment, name: str, was: str | None, on_event: EventFn) -> LiveService | None:
    """One rollback write (retried once), then what serves as read back (None: unreadable)."""
    host = env.host(name)
    now = None
    for _ in range(UNDO_ATTEMPTS):
        try:
            host.rollback(name, UNDO_TIMEOUT, on_event)
        except Exception as exc:  # read back: the write may have landed all the same
            on_event(name, f"undo: the rollback reported an error ({_code(exc)})")
        now = _current(env, name)
        if now is not None and now.live == was:
            return now
    return now


def _unsplit(move: Move, moved: list[str], on_event: EventFn) -> None:
    """The services that did not move, back to stable after their canary (best effort: the
    read-back in the error says what serves)."""
    if move.unsplit is None:
        return
    for name in move.services:
        if name in moved:
            continue
        try:
            move.unsplit(name)
        except Exception as exc:  # the swap's own failure is what to report
            on_event(name, f"undo: the canary split was not reset ({_code(exc)})")


def _restore_release_tags(
    env: Environment, move: Move, name: str, now: LiveService, on_event: EventFn
) -> None:
    """A rollback swaps the app's release tags as if the move had been recorded: put back the
    ones it had (best effort: `status` flags and `repair` fixes a tag left wrong)."""
    before = move.before[name]
    if (now.release, now.previous_release) == (before.release, before.previous_release):
        return
    try:
        env.host(name).record_live(
            name, {RELEASE_TAG: before.release or "", PREVIOUS_RELEASE_TAG: before.previous_release or ""}
        )
    except GenAIOpsError as exc:
        on_event(name, f"undo: the release tags were not restored ({exc.code}); `genaiops repair` fixes them")


def _current(env: Environment, name: str) -> LiveService | None:
    try:
        return env.host(name).current(name)
    except Exception:  # unreadable is an answer here
        return None


def _serving(env: Environment, name: str) -> str | None:
    now = _current(env, name)
    return None if now is None else now.live


def _code(exc: Exception) -> str:
    return exc.code if isinstance(exc, GenAIOpsError) else type(exc).__name__


def _message(exc: Exception) -> str:
    return exc.message if isinstance(exc, GenAIOpsError) else f"{type(exc).__name__}: {exc}"
