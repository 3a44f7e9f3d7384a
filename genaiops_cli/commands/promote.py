"""`genaiops promote --from SRC --to DST`: move the release that passed SRC, by digest, into DST
through DST's gates with blue/green, recording evidence in DST's ledger."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console as RichConsole

from genaiops_cli.commands._complete import complete_environment
from genaiops_cli.commands._options import (
    BreakLockOption,
    NoWatchOption,
    ReasonOption,
    TimeoutOption,
    override_reason,
)
from genaiops_cli.console import Col, fitted_table
from genaiops_cli.context import AppContext, app_context

FromOption = Annotated[
    str | None,
    typer.Option(
        "--from",
        help="Source environment (default: DST's promote_from).",
        autocompletion=complete_environment,
    ),
]


def register(app: typer.Typer) -> None:
    app.command(
        "promote", help="Promote the release live in SRC to DST by digest: copy, stage, gates, swap, record."
    )(promote)


def source_env(actx: AppContext, manifest, dst: str, src: str | None) -> str:
    from genaiops_cli.errors import UsageError

    if dst not in manifest.environments:
        raise UsageError(
            f"unknown environment {dst!r}", hint=f"environments: {', '.join(manifest.environments)}"
        )
    src = src or manifest.environments[dst].promote_from
    if not src:
        raise UsageError(f"environment {dst!r} has no promote_from", hint="pass --from SRC")
    return src


def render_plan(out: RichConsole, plan: dict) -> None:
    out.print(
        f"[bold]promote[/bold] {plan['source']} → {plan['target']}: release [bold]{plan['release']}[/bold]"
        f" (now {plan['target_release'] or 'none'} in {plan['target']}), strategy {plan['strategy']}"
    )
    ev = plan["source_evidence"]
    out.print(
        f"evidence in {plan['source']}: "
        + (
            f"[green]{', '.join(g['name'] + '=' + g['verdict'] for g in ev['gates'])}[/green] "
            f"({ev['actor']}, {ev['finished_at']})"
            if ev
            else "[yellow]none recorded[/yellow]"
        )
    )
    rows = []
    for s in plan["services"]:
        digest = (
            f"{(s['from_digest'] or 'none')[:19]} → {s['to_digest'][:19]}"
            if s["changed"]
            else f"{s['to_digest'][:19]} (same)"
        )
        revision = s["revision"] + (" (exists)" if s["revision_exists"] else " (new)")
        rows.append([s["service"], digest, s["copy"], revision, s["traffic"]])
    columns = [
        Col("service"),
        Col("digest", copy=True),
        Col("copy", drop=1),
        Col("revision", copy=True),
        Col("traffic"),
    ]
    table = fitted_table(out.width, columns, rows)
    out.print(table)
    out.print(f"gates in {plan['target']}: {', '.join(plan['gates']) or 'none'}")


def promote(
    ctx: typer.Context,
    to: Annotated[str, typer.Option("--to", help="Target environment.", autocompletion=complete_environment)],
    from_: FromOption = None,
    release: Annotated[
        str | None, typer.Option("--release", help="Promote this release id instead of SRC's live one.")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show the plan; change nothing.")] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Promote without SRC gate evidence (needs --reason).")
    ] = False,
    reason: ReasonOption = None,
    break_lock: BreakLockOption = False,
    copy_method: Annotated[str, typer.Option("--copy", help="auto | blobs | import")] = "auto",
    timeout: TimeoutOption = 300,
    no_watch: NoWatchOption = False,
) -> None:
    from genaiops_cli import wiring
    from genaiops_cli.commands._progress import service_progress
    from genaiops_cli.core import promote as core
    from genaiops_cli.errors import UsageError

    actx = app_context(ctx)
    manifest = actx.manifest()
    src_name = source_env(actx, manifest, to, from_)
    why = override_reason(reason, force=force, break_lock=break_lock)
    if copy_method not in ("auto", "blobs", "import"):
        raise UsageError(f"--copy {copy_method!r}", hint="auto, blobs or import")
    if not (dry_run or actx.assume_yes) and not actx.console.interactive:
        raise UsageError(  # before any network call: nothing to confirm with
            "promote changes an environment: pass --yes in non-interactive runs",
            hint="or --dry-run to see the plan",
        )
    src = actx.environment(src_name, timeout)
    dst = actx.environment(to, timeout)
    if dry_run or not actx.assume_yes:
        plan = core.plan(manifest, src, dst, release)
        if dry_run:
            actx.emit({"dry_run": True, **plan}, lambda out: render_plan(out, plan))
            return
        render_plan(actx.console.err, plan)
        if not typer.confirm(f"promote release {plan['release']} to {to}?", default=False, err=True):
            raise typer.Exit(1)
    options = core.Options(
        force_reason=why if force else None,
        break_lock=why if break_lock else None,
        timeout=timeout,
        copy_method=copy_method,
        delivery=wiring.delivery_ports,
        follow=wiring.follow(dst, not no_watch, timeout),
    )
    with service_progress(actx.console, dst.services) as on_event:
        result = core.promote(manifest, src, dst, release, options, on_event)

    def render(out: RichConsole) -> None:
        if result["status"] == "unchanged":
            out.print(f"[green]✓[/green] {result['message']}")
            return
        out.print(
            f"[green]✓[/green] release [bold]{result['release']}[/bold] is live in {result['target']}"
            + (f" (resumed, attempt {result['attempt']})" if result.get("resumed") else "")
        )
        for name, s in result["services"].items():
            out.print(f"  {name}: {s['revision']} ← {s['image']}")
        out.print("  gates: " + (", ".join(f"{g['name']}={g['verdict']}" for g in result["gates"]) or "none"))
        for o in result["overrides"]:
            out.print(f"  [yellow]override[/yellow] {o['what']}: {o['reason']} ({o['actor']})")
        out.print(f"  recorded in {result['ledger']}:{result['history']}")
        render_after(out, result)

    actx.emit(result, render)


def render_after(out: RichConsole, result: dict) -> None:
    """The monitor apply and the post-release watch that followed the release (promote, swap)."""
    from genaiops_cli.core.after_release import summary_line

    monitor = result.get("monitor")
    if monitor and monitor["ok"]:
        out.print(f"  monitor: {summary_line(monitor['summary'])}; applied {monitor['applied']}")
    watched = result.get("watch")
    if watched:
        checks = len(watched.get("checks") or [])
        detail = "--no-watch, recorded" if watched["verdict"] == "skipped" else f"{checks} checks"
        out.print(f"  post-release watch: {watched['verdict']} ({detail})")
