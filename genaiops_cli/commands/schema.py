"""`genaiops schema`: the manifest's JSON Schema, for editors and CI linters."""

from __future__ import annotations

import typer
from rich.console import Console as RichConsole

from genaiops_cli.context import app_context


def register(app: typer.Typer) -> None:
    app.command("schema", help="Print the JSON Schema of genaiops.yaml.")(schema)


def schema(ctx: typer.Context) -> None:
    from genaiops_cli.core.manifest.schema import manifest_json_schema, manifest_json_schema_text

    actx = app_context(ctx)
    document = manifest_json_schema()

    def render(out: RichConsole) -> None:
        # Raw JSON, not rich-highlighted, so `genaiops schema > file.json` is byte-stable.
        out.file.write(manifest_json_schema_text())

    actx.emit(document, render)
