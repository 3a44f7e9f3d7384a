"""`genaiops completion SHELL`: print the completion script for a named shell (as `gh completion`
and `kubectl completion` do), for dotfiles and images where `--install-completion` cannot detect it."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

COMPLETE_VAR = "_GENAIOPS_COMPLETE"


class Shell(StrEnum):
    bash = "bash"
    zsh = "zsh"
    fish = "fish"
    powershell = "powershell"
    pwsh = "pwsh"


def register(app: typer.Typer) -> None:
    app.command(
        "completion",
        help="Print the shell completion script: `source <(genaiops completion bash)` "
        "(zsh, fish, powershell likewise; `--install-completion` installs it for the current shell).",
    )(completion)


def completion(shell: Annotated[Shell, typer.Argument(help="bash, zsh, fish or powershell.")]) -> None:
    from typer._completion_shared import get_completion_script

    typer.echo(get_completion_script(prog_name="genaiops", complete_var=COMPLETE_VAR, shell=shell.value))
