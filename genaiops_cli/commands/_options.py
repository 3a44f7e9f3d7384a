"""Options shared by several commands, declared once."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

EnvOption = Annotated[Optional[str], typer.Option("--env", "-e", help="Environment name.")]  # noqa: UP007
ServicesArg = Annotated[Optional[list[str]], typer.Argument(help="Services (default: all).")]  # noqa: UP007
TimeoutOption = Annotated[float, typer.Option("--timeout", help="Seconds to wait for a revision to be ready.")]
