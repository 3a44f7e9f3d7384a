"""`genaiops eval`: run evaluations against a deployed service and apply their gates
(exit 0 pass, 9 fail, 10 inconclusive); `genaiops eval diff A B` compares two runs' per-row results."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console as RichConsole

from genaiops_cli.commands._complete import complete_environment, complete_evaluation
from genaiops_cli.context import AppContext, app_context
from genaiops_cli.errors import UsageError

BatchOption = Annotated[
    bool,
    typer.Option(
        "--batch",
        help="Send the calls from a Container Apps Job execution in the environment (needs -e); "
        "the same report and gates as a local run.",
    ),
]
ShardsOption = Annotated[
    int | None,
    typer.Option("--shards", min=1, max=64, help="With --batch: shards = replicas in parallel (default 4)."),
]


def register(app: typer.Typer) -> None:
    app.command(
        "eval",
        help="Run evaluations (datasets, safety probes, A/B against the baseline) and apply their gates. "
        "`genaiops eval diff A B` compares two --report outputs.",
    )(eval_command)


def eval_command(
    ctx: typer.Context,
    names: Annotated[
        list[str] | None,
        typer.Argument(
            help="Evaluations to run (default: the environment's gates, else all).",
            autocompletion=complete_evaluation,
        ),
    ] = None,
    env: Annotated[
        str | None,
        typer.Option(
            "--env", "-e", help="Environment whose service is evaluated.", autocompletion=complete_environment
        ),
    ] = None,
    url: Annotated[
        str | None,
        typer.Option("--url", help="Base URL of the candidate (instead of the environment's label URL)."),
    ] = None,
    label: Annotated[
        str | None, typer.Option("--label", help="Revision label of the candidate, e.g. green.")
    ] = None,
    baseline: Annotated[
        str | None, typer.Option("--baseline", help="Baseline label for A/B (e.g. blue), or `none`.")
    ] = None,
    baseline_url: Annotated[
        str | None, typer.Option("--baseline-url", help="Base URL of the baseline.")
    ] = None,
    limit: Annotated[
        int | None, typer.Option("--limit", min=1, help="Use only the first N dataset rows.")
    ] = None,
    concurrency: Annotated[
        int, typer.Option("--concurrency", min=1, max=256, help="Requests in flight.")
    ] = 8,
    timeout: Annotated[
        float, typer.Option("--timeout", min=0.1, help="Per-request timeout in seconds.")
    ] = 30.0,
    retries: Annotated[
        int, typer.Option("--retries", min=0, max=10, help="Retries on 429/5xx/connection errors.")
    ] = 3,
    resolve: Annotated[
        list[str] | None, typer.Option("--resolve", help="HOST=ADDR[:PORT], like curl --resolve.")
    ] = None,
    ca_bundle: Annotated[
        Path | None, typer.Option("--ca-bundle", help="CA certificates to trust for the target.")
    ] = None,
    junit: Annotated[Path | None, typer.Option("--junit", help="Write JUnit XML here.")] = None,
    report: Annotated[
        Path | None, typer.Option("--report", help="Directory for per-row results and reports.")
    ] = None,
    batch: BatchOption = False,
    shards: ShardsOption = None,
) -> None:
    actx = app_context(ctx)
    args = list(names or [])
    if args and args[0] == "diff":
        _diff(actx, args[1:])
        return
    resolved = _checked_targets(resolve, url, baseline_url)
    _run(
        actx,
        args,
        env or actx.env_name,
        url,
        label,
        baseline,
        baseline_url,
        limit,
        concurrency,
        timeout,
        retries,
        resolved,
        str(ca_bundle) if ca_bundle else None,
        junit,
        report,
        batch or shards is not None,
        shards,
    )


def _checked_targets(resolve: list[str] | None, url: str | None, baseline_url: str | None) -> dict[str, str]:
    """The --resolve map, after refusing metadata/link-local targets (exit 2 before any request)."""
    from genaiops_cli.core.netpolicy import check_option_targets

    resolved = _resolve_map(resolve)
    check_option_targets({"--url": url, "--baseline-url": baseline_url}, resolved)
    return resolved


def _resolve_map(items: list[str] | None) -> dict[str, str]:
    out = {}
    for item in items or []:
        host, sep, addr = item.partition("=")
        if not sep or not host or not addr:
            raise UsageError(
                f"bad --resolve {item!r}", hint="use HOST=ADDR[:PORT], e.g. app.example.test=127.0.0.1:8443"
            )
        out[host] = addr
    return out


def _run(
    actx: AppContext,
    names: list[str],
    env: str | None,
    url: str | None,
    label: str | None,
    baseline: str | None,
    baseline_url: str | None,
    limit: int | None,
    concurrency: int,
    timeout: float,
    retries: int,
    resolve: dict[str, str],
    ca_bundle: str | None,
    junit: Path | None,
    report: Path | None,
    batch: bool = False,
    shards: int | None = None,
) -> None:

    from genaiops_cli.core.ci_annotations import (
        annotate,
        annotations_wanted,
        append_step_summary,
        summary_wanted,
    )
    from genaiops_cli.core.evaluation import engine
    from genaiops_cli.core.evaluation import report as reports
    from genaiops_cli.core.evaluation.runner import RunOptions
    from genaiops_cli.core.evaluation.select import plan_targets, select_evaluations

    manifest = actx.manifest()
    chosen = select_evaluations(manifest, names, env)
    # Every input check happens here, before a single request is sent.
    from genaiops_cli.core.datasets import fetcher

    fetch = fetcher(lambda: actx.environment(env).datasets, manifest.base_dir) if env else None
    prepared = [
        engine.prepare(n, spec, manifest.base_dir, limit=limit, manifest_file=str(manifest.path), fetch=fetch)
        for n, spec in chosen.items()
    ]
    targets = plan_targets(
        manifest,
        chosen,
        env=(lambda: actx.environment(env)) if env else None,
        url=url,
        label=label,
        baseline=baseline,
        baseline_url=baseline_url,
        resolve=resolve,
        ca_bundle=ca_bundle,
    )
    options = RunOptions(concurrency=concurrency, timeout=timeout, retries=retries)
    batch_shards = _batch_shards(chosen, batch, shards, env)
    batch_info = None
    if batch_shards:
        results, batch_info = _run_batch(
            actx, env, prepared, targets, options, batch_shards, str(manifest.path)
        )
    else:
        results = _run_local(actx, prepared, targets, options, str(manifest.path))
    result = reports.result_dict(
        results, environment=env, label=label, report_dir=str(report) if report else None
    )
    if batch_info:
        result["batch"] = batch_info
    if junit:
        write_junit_text(junit, reports.junit(results))
    if report:
        reports.write_report_dir(report, results, result)
    if summary_wanted():
        append_step_summary(reports.markdown(results))
    if annotations_wanted():  # outside CI: no annotations, so no second, line-aware read of the manifest
        from genaiops_cli.core.manifest.locate import ManifestLocator

        annotate(reports.annotations(results, ManifestLocator.read(manifest.path)))
    verdict = result["verdict"]
    actx.console.result(actx.command, result, lambda out: _render(out, results), ok=verdict == "pass")
    if verdict != "pass":
        raise _gate_error(results, verdict, report)


def _run_local(
    actx: AppContext, prepared: list[Any], targets: Any, options: Any, manifest_file: str
) -> list[Any]:
    from genaiops_cli.core.evaluation import engine

    def client_factory(target: Any) -> Any:
        from genaiops_cli.wiring import http

        return http().row_client(target.resolve, target.ca_bundle, options.timeout)

    total = sum(
        len(p.calls) + (sum(1 for c in p.calls if c.kind == "row") if targets[p.name].baseline else 0)
        for p in prepared
    )
    with _progress(actx, total) as advance:
        return engine.run_evaluations(
            prepared, targets, client_factory, options, on_done=advance, manifest_file=manifest_file
        )


def _batch_shards(chosen: dict[str, Any], batch: bool, shards: int | None, env: str | None) -> int:
    """0 for a local run; else the shard count (--shards, else the evaluations' `batch.shards`, else 4).
    Evaluations that all say `batch:` run as a batch whenever an environment is given."""
    configured = [spec.batch for spec in chosen.values() if spec.batch is not None]
    wanted = batch or (bool(chosen) and len(configured) == len(chosen) and env is not None)
    if not wanted:
        return 0
    if env is None:
        raise UsageError("--batch runs in an environment", hint="add -e ENV")
    return shards or max((b.shards for b in configured), default=4)


def _run_batch(
    actx: AppContext,
    env: str,
    prepared: list[Any],
    targets: Any,
    options: Any,
    shards: int,
    manifest_file: str,
) -> tuple[list[Any], dict[str, Any]]:
    import os

    from genaiops_cli.core.evaluation import batch as batchlib
    from genaiops_cli.wiring import batch_backend

    fail_once = [int(k) for k in os.environ.get("GENAIOPS_BATCH_FAIL_ONCE", "").split(",") if k.strip()]
    plan = batchlib.plan(prepared, targets, shards, options, fail_once=fail_once)
    backend = batch_backend(actx.environment(env))
    seen = {"done": ""}

    def progress(done: int, total: int, status: str) -> None:
        key = f"{done}/{total} shards done, execution {status}"
        if key != seen["done"] and not actx.console.is_json and actx.console.verbosity >= 0:
            actx.console.err.print(f"[bold]eval --batch[/bold] {plan.execution}: {key}", markup=True)
        seen["done"] = key

    results = batchlib.run(
        prepared, targets, backend, plan, on_progress=progress, manifest_file=manifest_file
    )
    return results, plan.summary()


def _gate_error(results: list[Any], verdict: str, report: Path | None) -> Exception:
    from genaiops_cli.errors import GateFailed, GateInconclusive

    blocking = [f"{r.name}: {g.name} ({g.verdict})" for r in results for g in r.gates if g.blocking]
    message = f"evaluation gate {'failed' if verdict == 'fail' else 'inconclusive'}: " + "; ".join(
        blocking[:5]
    )
    err_cls = GateFailed if verdict == "fail" else GateInconclusive
    hint = (
        "see the failing rows above" + (f" and {report}" if report else "; keep them with --report DIR")
        if verdict == "fail"
        else "the A/B interval straddles the margin: add rows, or decide by hand"
    )
    return err_cls(message, hint=hint, details={"verdict": verdict})


def write_junit_text(path: Path, xml: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(xml, encoding="utf-8")


class _progress:
    """A progress bar with rate and ETA on stderr; nothing in JSON or quiet mode."""

    def __init__(self, actx: AppContext, total: int) -> None:
        self.console = actx.console
        self.total = total
        self.progress: Any = None

    def __enter__(self) -> Any:
        if self.console.is_json or self.console.verbosity < 0:
            return lambda outcome: None
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.progress = Progress(
            TextColumn("[bold]eval[/bold]"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TextColumn("errors {task.fields[errors]}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=self.console.err,
            transient=False,
        )
        self.progress.__enter__()
        task = self.progress.add_task("calls", total=self.total, rate="— rows/s", errors=0)
        state = {"errors": 0, "pending": 0, "done": 0, "last": 0.0}
        import time

        def advance(outcome: Any) -> None:
            # The bar redraws ~10 times a second, so it is told at most every 50 ms (and at the end):
            # rich's rate estimate walks its whole sample window on every update (~40 µs a row).
            state["errors"] += outcome.error is not None
            state["pending"] += 1
            state["done"] += 1
            now = time.monotonic()
            if now - state["last"] < 0.05 and state["done"] < self.total:
                return
            state["last"] = now
            self.progress.advance(task, state["pending"])
            state["pending"] = 0
            speed = self.progress.tasks[0].speed
            self.progress.update(
                task, rate=f"{speed:.1f} rows/s" if speed else "— rows/s", errors=state["errors"]
            )

        return advance

    def __exit__(self, *exc: Any) -> None:
        if self.progress is not None:
            self.progress.__exit__(*exc)


def _fmt(v: Any) -> str:
    if v is None or (isinstance(v, float) and v != v):
        return "—"
    return f"{v:.4g}" if isinstance(v, float) else str(v)


STYLE = {
    "pass": "[green]pass[/green]",
    "fail": "[red]fail[/red]",
    "inconclusive": "[yellow]inconclusive[/yellow]",
}


def _render(out: RichConsole, results: list[Any]) -> None:
    from rich.table import Table

    from genaiops_cli.core.evaluation.report import MAX_FAILING_ROWS

    for r in results:
        dry = " (dry run)" if r.prepared.spec.dry_run else ""
        out.print(
            f"[bold]{r.name}[/bold]: {STYLE[r.verdict]}{dry} — {len(r.outcomes)} calls to {r.target.base_url}"
            f" in {r.seconds:.1f}s"
        )
        metrics = Table(box=None, pad_edge=False, header_style="bold")
        metrics.add_column("metric")
        metrics.add_column("value", justify="right")
        if r.baseline_metrics:
            metrics.add_column("baseline", justify="right")
        for k, v in sorted(r.metrics.items()):
            metrics.add_row(k, _fmt(v), *([_fmt(r.baseline_metrics.get(k))] if r.baseline_metrics else []))
        out.print(metrics)
        if r.gates:
            table = Table(box=None, pad_edge=False, header_style="bold")
            for col in ("gate", "verdict", "detail"):
                table.add_column(col)
            for g in r.gates:
                table.add_row(g.name, STYLE[g.verdict] + (" (dry run)" if g.dry_run else ""), g.message)
            out.print(table)
        if r.baseline_skipped:
            out.print(f"[dim]A/B skipped: {r.baseline_skipped}[/dim]")
        if r.failing:
            out.print(
                f"[bold]{len(r.failing)} failing rows[/bold]"
                + (f" (first {MAX_FAILING_ROWS})" if len(r.failing) > MAX_FAILING_ROWS else "")
            )
            rows = Table(box=None, pad_edge=False, header_style="bold")
            for col in ("row", "input", "answer", "why"):
                rows.add_column(col, overflow="fold")
            for o, reasons in r.failing[:MAX_FAILING_ROWS]:
                text = (
                    o.call.data.get("prompt") if o.call.kind == "probe" else o.call.data.get("question", "")
                )
                rows.add_row(
                    f"{o.call.row_id}:{o.call.line}",
                    str(text)[:70],
                    str(o.answer or o.error or "")[:70],
                    "; ".join(reasons)[:120],
                )
            out.print(rows)
        out.print()


def _diff(actx: AppContext, args: list[str]) -> None:
    from genaiops_cli.core.evaluation.diff import diff

    if len(args) != 2:
        raise UsageError(
            "usage: genaiops eval diff A B", hint="A and B: two NAME.rows.jsonl files or two --report dirs"
        )
    result = diff(Path(args[0]), Path(args[1]))

    def render(out: RichConsole) -> None:
        from rich.table import Table

        for ev in result["evaluations"]:
            out.print(
                f"[bold]{ev['name']}[/bold]: {ev['changed']} of {ev['common']} rows changed"
                + (f", {len(ev['only_in_a'])} only in A" if ev["only_in_a"] else "")
                + (f", {len(ev['only_in_b'])} only in B" if ev["only_in_b"] else "")
            )
            table = Table(box=None, pad_edge=False, header_style="bold")
            for col in ("metric", "A", "B", "delta", "rows up", "rows down"):
                table.add_column(col, justify="right" if col != "metric" else "left")
            for name, m in ev["metrics"].items():
                table.add_row(
                    name,
                    _fmt(m["a"]),
                    _fmt(m["b"]),
                    f"{m['delta']:+.4g}",
                    str(m["rows_up"]),
                    str(m["rows_down"]),
                )
            out.print(table)
            for ch in ev["changes"][:10]:
                deltas = ", ".join(f"{k} {v:+.3g}" for k, v in ch["deltas"].items())
                out.print(
                    f"  • {ch['id']} {str(ch['input'])[:60]!r}: {str(ch['answer_a'])[:50]!r} → "
                    f"{str(ch['answer_b'] or ch['error_b'])[:50]!r} {deltas}",
                    markup=False,
                )

    actx.emit(result, render)
