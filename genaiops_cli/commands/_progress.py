"""A live line per service for long steps (build, push, deploy); silent in JSON and quiet modes."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from genaiops_cli.console import Console

MAX_LINE = 90


@contextmanager
def service_progress(console: Console, services: list[str]) -> Iterator[callable]:  # type: ignore[valid-type]
    lock = threading.Lock()
    if console.is_json or console.verbosity < 0 or not console.err.is_terminal:

        def plain(service: str, message: str) -> None:
            # Non-interactive logs keep milestones only; engine chatter goes to -v.
            if message.startswith(("building", "built", "pushing", "pushed", "up to date", "already")):
                console.info(f"[bold]{service}[/bold]: {message}")
            else:
                console.debug(f"{service}: {message}")

        yield plain
        return

    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    with Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.fields[service]}[/bold]"),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console.err,
        transient=False,
    ) as progress:
        tasks = {s: progress.add_task("waiting", service=s) for s in services}

        def update(service: str, message: str) -> None:
            line = message.strip().splitlines()[-1] if message.strip() else ""
            with lock:
                progress.update(tasks[service], description=line[:MAX_LINE])

        yield update
