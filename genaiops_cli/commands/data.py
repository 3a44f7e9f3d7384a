"""`genaiops data push|list|show|pull`: versioned datasets in an environment's storage account.
The logic (content addressing, `@latest`, checks) is core/datasets.py; this module parses and renders."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console as RichConsole

from genaiops_cli.commands._options import EnvOption
from genaiops_cli.context import AppContext, app_context

data_app = typer.Typer(
    help="Versioned datasets in the environment's storage account (content-addressed), registered in "
    "its Foundry project when it has one.",
    no_args_is_help=True,
)
RefArg = Annotated[str, typer.Argument(help="NAME or NAME@VERSION (VERSION may be `latest`).")]


def register(app: typer.Typer) -> None:
    app.add_typer(data_app, name="data")


def _store(actx: AppContext, env: str | None) -> Any:
    return actx.environment(env).datasets


@data_app.command(
    "push", help="Upload a .jsonl/.csv file or a folder as a new version (same bytes: same version)."
)
def push(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Dataset name.")],
    path: Annotated[Path, typer.Argument(help="A .jsonl/.csv file or a folder.")],
    env: EnvOption = None,
) -> None:
    from genaiops_cli.core import datasets

    actx = app_context(ctx)
    datasets.parse_ref(name)  # a bad name is a usage error before anything is read or sent
    files = datasets.collect(path)
    datasets.check_rows(path, files)
    store = _store(actx, env)
    record, created = datasets.push(store, name, files)
    result = {
        **_brief(record),
        "created": created,
        "ref": f"foundry:{name}@{record['version']}",
        "registry": store.location,  # the Foundry project when the environment has one, else the container
    }

    def render(out: RichConsole) -> None:
        # an unchanged push answers the stored summary, which counts files but does not list them
        state = "pushed" if created else "unchanged (already stored)"
        out.print(
            f"{name}@{record['version']} {state}: {result.get('file_count', 0)} file(s), "
            f"{record['bytes']} bytes, in {result['registry']}"
        )
        out.print(f"use it in an evaluation as  dataset: {result['ref']}")

    actx.emit(result, render)


@data_app.command("list", help="Datasets and their versions, newest first.")
def list_(ctx: typer.Context, env: EnvOption = None) -> None:
    actx = app_context(ctx)
    store = _store(actx, env)
    out_rows = []
    for name in store.names():
        for v in sorted(store.versions(name), key=lambda v: str(v.get("created")), reverse=True):
            out_rows.append(_brief(v))

    def render(out: RichConsole) -> None:
        from rich.table import Table

        table = Table("name", "version", "files", "bytes", "created", box=None)
        for r in out_rows:
            table.add_row(
                r["name"], r["version"], str(r.get("file_count", "")), str(r["bytes"]), r["created"][:19]
            )
        out.print(table if out_rows else "no datasets yet (genaiops data push NAME PATH -e ENV)")

    actx.emit({"datasets": out_rows}, render)


@data_app.command("show", help="One version's record: files and their SHA-256 (default: latest).")
def show(ctx: typer.Context, ref: RefArg, env: EnvOption = None) -> None:
    from genaiops_cli.core import datasets

    actx = app_context(ctx)
    wanted = datasets.parse_ref(ref)  # a bad reference is a usage error before any network call
    full = datasets.resolve(_store(actx, env), wanted)

    def render(out: RichConsole) -> None:
        out.print(
            f"{full['name']}@{full['version']}  sha256 {full['sha256']}  created {full['created'][:19]}"
        )
        for rel, sha in full["files"].items():
            out.print(f"  {rel}  {sha[:16]}…")

    actx.emit(full, render)


@data_app.command("pull", help="Download a version into DEST (each file checked against its SHA-256).")
def pull(
    ctx: typer.Context,
    ref: RefArg,
    dest: Annotated[Path, typer.Argument(help="Folder to write the files into.")],
    env: EnvOption = None,
) -> None:
    from genaiops_cli.core import datasets

    actx = app_context(ctx)
    wanted = datasets.parse_ref(ref)
    store = _store(actx, env)
    record = datasets.resolve(store, wanted)
    root = datasets.materialize(store, record, dest)
    result = {**_brief(record), "dest": str(root), "files": sorted(record["files"])}
    actx.emit(result, lambda out: out.print(f"{record['name']}@{record['version']} → {root}"))


def _brief(record: dict[str, Any]) -> dict[str, Any]:
    keys = ("name", "version", "sha256", "bytes", "created", "file_count", "data_uri")
    return {k: record[k] for k in keys if k in record} | (
        {"file_count": len(record["files"])} if "files" in record else {}
    )
