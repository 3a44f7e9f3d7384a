"""What follows a release going live, shared by `promote` and `swap`:

- the post-release watch when the environment has `watch:` (core/watch.py) — or, with `--no-watch`,
  a history entry saying it was skipped and by whom;
- `monitor apply` when the environment's `monitor.apply_on` names the command (core/monitor.py).

A monitor apply that fails after the release went live does not undo or un-record the release: the
caller reports the release as live and the apply as the failure (exit 5, `monitor_apply_failed`)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from genaiops_cli.core import monitor as mon
from genaiops_cli.core.watch import Watched, WatchRun, record_skip, revisions_id
from genaiops_cli.errors import GenAIOpsError, ProvisionError

if TYPE_CHECKING:
    from genaiops_cli.core.environment import Environment
    from genaiops_cli.core.manifest.model import Manifest
    from genaiops_cli.core.ports import EventFn, MonitorPort, RevisionMetrics

MetricsFn = Callable[["Environment", str], "RevisionMetrics"]


@dataclass
class Follow:
    """How the caller wants the after-release work done."""

    watch: bool = True  # False: --no-watch (recorded when the environment asks for a watch)
    metrics: MetricsFn | None = None  # the service's metrics per revision (wiring)
    monitor: Callable[[], MonitorPort] | None = None  # the environment's Azure Monitor (wiring)
    timeout: float = 300
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep


def watch(
    env: Environment,
    services: list[str],
    release: str | None,
    follow: Follow,
    on_event: EventFn,
    tick: Callable[[], None] = lambda: None,
) -> dict[str, Any] | None:
    """Run (or record the skip of) the environment's post-release watch; None when it has none.
    Raises GateFailed (exit 9) after rolling back when the watch fails."""
    spec = env.config.watch
    if spec is None:
        return None
    # no release id (a swap outside the gated path): name the revisions, not the apps' release tags
    what = release or revisions_id([str(env.host(s).current(s).live) for s in services])
    if not follow.watch:
        tag = record_skip(env.ledger, env.name, what, services, "--no-watch")
        on_event(services[0], f"post-release watch skipped (--no-watch), recorded in {tag}")
        return {"verdict": "skipped", "release": what, "history": tag}
    if follow.metrics is None:
        raise GenAIOpsError("no metrics port wired for the post-release watch", code="internal_error")
    targets = [Watched(s, env.host(s), follow.metrics(env, s)) for s in services]
    run = WatchRun(
        env.name, targets, spec, env.ledger, on_event, follow.timeout, follow.clock, follow.sleep, tick
    )
    run.release = what
    return run.run()


def apply_monitor(
    manifest: Manifest,
    env_name: str,
    command: str,
    port: Callable[[], MonitorPort] | None,
    on_event: Callable[[str], None],
) -> dict[str, Any] | None:
    """`monitor apply` for the environment when its `monitor.apply_on` names `command` (None when it
    does not): the what-if summary and what was applied, or the error — never raised, the caller
    decides how to report it."""
    monitor = manifest.environment(env_name).config.monitor
    if monitor is None or command not in monitor.apply_on or port is None:
        return None
    try:
        monitor_port = port()
        changes, desired = mon.plan(monitor_port, manifest, env_name)
        summary = mon.summarize(changes)
        on_event(f"monitor what-if: {summary_line(summary)}")
        applied = mon.apply(monitor_port, manifest, env_name, changes, desired)
    except GenAIOpsError as exc:
        return {"ok": False, "error": exc.to_dict()}
    return {
        "ok": True,
        "summary": summary,
        "changes": [c.as_dict() for c in changes if c.action != "NoChange"],
        "applied": applied,
    }


def summary_line(summary: dict[str, int]) -> str:
    return ", ".join(f"{n} {k.lower()}" for k, n in summary.items() if n) or "nothing declared"


def monitor_failure(
    env_name: str, what: str, outcome: dict[str, Any], result: dict[str, Any]
) -> ProvisionError:
    """The error reported when `what` (the release, the provisioning) succeeded and the monitor apply
    after it did not: exit 5, with the successful result in the details."""
    error = outcome["error"]
    return ProvisionError(
        f"{what} succeeded; applying `monitor:` of {env_name} afterwards failed: {error.get('message')}",
        hint=f"fix it and run `genaiops monitor apply -e {env_name}`; {what} stands as it is",
        code="monitor_apply_failed",
        details={"result": result, "monitor_error": error},
    )
