"""A short runner for journaled, resumable operations (as Kargo's promotion steps and Argo
Rollouts' step index): each step is a small object with a name and an idempotent `run`; the
runner executes them in order over a DeploymentRecord's journal, skipping every step the journal
already records as done, so a re-run after a failure resumes after the last completed step.

A step marked `converge` runs again on resume even when done: its effect may have been undone
since (a staged revision a failed gate rolled back) and re-running it is idempotent and cheap, and
what it computes feeds later steps."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from genaiops_cli.core import ledger as lg
from genaiops_cli.core.ports import Lease, LedgerStore
from genaiops_cli.errors import GenAIOpsError

RunT = TypeVar("RunT", contravariant=True)


class Step(Protocol[RunT]):
    @property
    def name(self) -> str:
        """The step's name in the journal (e.g. `copy:agent`); unique within a run."""
        ...

    @property
    def converge(self) -> bool:
        """Run again on resume even when done (idempotent, and its effect may have been undone)."""
        ...

    def run(self, ctx: RunT) -> dict[str, Any] | None:
        """Do the step (idempotently) and return what the journal keeps about it; None when the
        step wrote its own final record. Raise a GenAIOpsError to fail, `Refused` to refuse."""
        ...


class Refused(Exception):
    """A step declines to proceed (e.g. no gate evidence): the run is recorded as refused, not
    failed, and is not resumable as is."""

    def __init__(self, error: GenAIOpsError) -> None:
        super().__init__(error.message)
        self.error = error


@dataclass
class Journal:
    """A DeploymentRecord being run, with where it is saved and the lock held while it runs."""

    record: lg.DeploymentRecord
    store: LedgerStore
    lease: Lease | None = None

    def save(self) -> None:
        tag = lg.journal_tag(self.record.environment, self.record.release_id)
        self.store.put(tag, "deployment", self.record.to_dict())
        if self.lease is not None:
            self.lease.renew()

    def fail(self, step: str, exc: GenAIOpsError) -> GenAIOpsError:
        """Record `step` as failed (history included) and tell the caller how to resume."""
        self.record.mark(step, lg.FAILED, error=exc.message)
        self.record.status = "failed"
        self.record.error = {"step": step, **exc.to_dict()}
        lg.finish(self.store, self.record)
        exc.details = {
            **(exc.details or {}),
            "release": self.record.release_id,
            "failed_step": step,
            "resume": f"re-run the same {self.record.operation} to continue from {step}",
        }
        return exc

    def interrupted(self, step: str) -> None:
        """Ctrl-C/SIGTERM during `step`: the attempt goes into history as failed (`interrupted`),
        resumable. Best effort: a ledger that cannot be written now leaves the journal as it was
        (still resumable), and a second signal ends the process at once (genaiops_cli/interrupts)."""
        try:
            self.fail(step, GenAIOpsError(f"interrupted during {step}", code="interrupted"))
        except GenAIOpsError:
            pass

    def refuse(self, step: str, exc: GenAIOpsError) -> GenAIOpsError:
        self.record.status = "refused"
        self.record.mark(step, lg.FAILED, error=exc.message)
        self.record.error = exc.to_dict()
        lg.finish(self.store, self.record)
        return exc


def pending(steps: Sequence[Step[Any]], record: lg.DeploymentRecord) -> list[Step[Any]]:
    """The steps a run executes: those not done yet, and every converging one."""
    return [s for s in steps if s.converge or not record.is_done(s.name)]


def execute(
    steps: Sequence[Step[RunT]],
    ctx: RunT,
    journal: Journal,
    on_step: Callable[[str], None] | None = None,
) -> None:
    """Run `steps` over `journal`; the first failure is journaled and raised. `on_step` hears the
    name of each step as it starts. Ctrl-C/SIGTERM (KeyboardInterrupt) is journaled as a failed,
    resumable attempt (so history shows it) and re-raised."""
    for step in pending(steps, journal.record):
        if on_step is not None:
            on_step(step.name)
        try:
            detail = step.run(ctx)
            if detail is not None:
                journal.record.mark(step.name, lg.DONE, **detail)
                journal.save()  # a failed save fails the step (re-run on resume: it is idempotent)
        except Refused as refusal:
            raise journal.refuse(step.name, refusal.error) from None
        except GenAIOpsError as exc:
            raise journal.fail(step.name, exc)  # noqa: B904 - the same error, with resume details
        except KeyboardInterrupt:
            journal.interrupted(step.name)
            raise
