"""Root of the CLI: global options → AppContext, and the ONE place where errors become exit codes."""

from __future__ import annotations

import copy
import importlib
import sys
import traceback
from pathlib import Path
from typing import Annotated

import typer

from genaiops_cli import __version__
from genaiops_cli.commands import COMMAND_MODULES
from genaiops_cli.commands._complete import complete_environment
from genaiops_cli.commands._tree import GenaiopsGroup
from genaiops_cli.console import Console, OutputMode
from genaiops_cli.context import AppContext
from genaiops_cli.errors import ExitCode, GenAIOpsError, UsageError
from genaiops_cli.interrupts import catching_interrupts, exit_now, resume_hint

app = typer.Typer(
    name="genaiops",
    help="GenAIOps for Azure: build, push, deploy, blue/green, gates and promotion by digest.",
    cls=GenaiopsGroup,
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"genaiops {__version__}")
        raise typer.Exit(0)


@app.callback()
def root(
    ctx: typer.Context,
    manifest: Annotated[
        Path | None,
        typer.Option(
            "--manifest", "-f", help="Path to genaiops.yaml (default: found by walking up from cwd)."
        ),
    ] = None,
    env: Annotated[
        str | None,
        typer.Option(
            "--env",
            "-e",
            envvar="GENAIOPS_ENV",
            help="Environment name from the manifest.",
            autocompletion=complete_environment,
        ),
    ] = None,
    output: Annotated[
        OutputMode, typer.Option("--output", "-o", help="text for humans, json for machines.")
    ] = (OutputMode.text),
    verbose: Annotated[int, typer.Option("--verbose", "-v", count=True, help="More detail on stderr.")] = 0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only errors on stderr.")] = False,
    no_color: Annotated[
        bool, typer.Option("--no-color", help="Plain output (NO_COLOR is honoured too).")
    ] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for failures.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Assume yes to confirmations.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    ctx.obj = _state["app"] = AppContext(
        console=Console(output=output, verbosity=-1 if quiet else verbose, color=not no_color),
        manifest_path=manifest,
        env_name=env,
        assume_yes=yes,
        debug=debug,
        command=ctx.invoked_subcommand or "",
    )


# The AppContext of the current invocation, so the error handler can reach it after click unwinds.
_state: dict[str, AppContext] = {}

for _name in COMMAND_MODULES:
    importlib.import_module(f"genaiops_cli.commands.{_name}").register(app)


def _prescan(argv: list[str]) -> tuple[OutputMode, bool, str]:
    """Output mode, --debug and the command name from raw argv, for errors raised before the callback ran."""
    mode, debug, command = OutputMode.text, False, ""
    takes_value = {"--manifest", "-f", "--env", "-e", "--output", "-o"}
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in ("--output", "-o") and i + 1 < len(argv):
            mode = OutputMode.json if argv[i + 1] == "json" else OutputMode.text
        elif arg in ("--output=json", "-ojson"):
            mode = OutputMode.json
        elif arg == "--debug":
            debug = True
        elif not arg.startswith("-") and not command:
            command = arg
        if arg in takes_value:
            i += 1
        i += 1
    return mode, debug, command


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    mode, debug, command = _prescan(args)
    _state.clear()
    with catching_interrupts() as interrupts:
        try:
            outcome = _run(args)
            if interrupts.happened or outcome == ExitCode.INTERRUPTED:
                # However the signal travelled (KeyboardInterrupt, Exit(130), Abort, or an error a
                # library made of it), the run ends as `interrupted`: one envelope, not two.
                code = _interrupted(args, mode, debug, command, interrupts.name or "SIGINT", outcome)
            elif isinstance(outcome, GenAIOpsError):
                code = _report(outcome, mode, debug, command)
            elif isinstance(outcome, typer.TyperException):
                code = _usage_error(outcome, mode, debug, command)
            else:
                code = outcome
        except KeyboardInterrupt:  # a signal that landed while reporting: the report may be partial
            code = ExitCode.INTERRUPTED
    if code == ExitCode.INTERRUPTED and argv is None:
        exit_now(code)  # don't wait for worker threads still blocked in a network or engine call
    raise SystemExit(code)


def _tree_for(args: list[str]) -> typer.Typer:
    """The app holding only the command `args` names. On every run typer turns each registered command
    into a click command (signature and type-hint inspection of ~40 functions: ≈ 30 ms CPU, measured),
    though a run uses one. No command named, a name that is not a command (its error suggests the
    close ones) or shell completion: the whole tree, as before."""
    import os

    _, _, name = _prescan(args)
    if not name or os.environ.get("_GENAIOPS_COMPLETE") or not isinstance(app, typer.Typer):
        return app  # (an `app` that is no Typer is an in-process caller's stand-in: run it as given)
    from typer.main import get_command_name

    commands = [
        c
        for c in app.registered_commands
        if (c.name or get_command_name(getattr(c.callback, "__name__", ""))) == name
    ]
    groups = [g for g in app.registered_groups if g.name == name]
    if not commands and not groups:
        return app
    only = copy.copy(app)
    only.registered_commands, only.registered_groups = commands, groups
    return only


def _run(args: list[str]) -> int | GenAIOpsError | typer.TyperException:
    """Run the command; return its exit code, or the failure for main to report."""
    try:
        returned = _tree_for(args)(args=args, prog_name="genaiops", standalone_mode=False)
        # Non-standalone typer returns an explicit Exit's code (and turns Ctrl-C into Exit(130)).
        return returned if isinstance(returned, int) else ExitCode.OK
    except GenAIOpsError as exc:
        return exc
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:  # a confirmation prompt got end-of-input (Ctrl-C is recorded by its signal)
        return UsageError(
            "no answer to a confirmation: input ended", hint="pass --yes in non-interactive runs"
        )
    except typer.TyperException as exc:  # usage errors: bad option, missing argument, no such command
        return exc
    except KeyboardInterrupt:
        return ExitCode.INTERRUPTED
    except Exception as exc:  # anything unexpected is a bug: say so, trace only with --debug
        internal = GenAIOpsError(
            f"internal error: {type(exc).__name__}: {exc}",
            hint="re-run with --debug for the traceback and report it",
        )
        internal.__cause__ = exc  # --debug shows the original traceback
        return internal


def _interrupted(
    args: list[str], mode: OutputMode, debug: bool, command: str, signal_name: str, outcome: object = None
) -> int:
    """However the signal travelled (KeyboardInterrupt, Exit(130), Abort, a swallowed exception),
    the run ends as `interrupted` with how to resume — or with what the command itself said about the
    interrupt (an `interrupted` error of its own, e.g. "the release stays live" from a watch)."""
    if isinstance(outcome, GenAIOpsError) and outcome.code == "interrupted":
        outcome.details = {**(outcome.details or {}), "signal": signal_name}
        outcome.exit_code = ExitCode.INTERRUPTED
        return _report(outcome, mode, debug, command)
    error = GenAIOpsError(
        f"interrupted by {signal_name}",
        hint=resume_hint(args),
        code="interrupted",
        details={"signal": signal_name},
    )
    error.exit_code = ExitCode.INTERRUPTED
    return _report(error, mode, debug, command)


def _usage_error(exc: typer.TyperException, mode: OutputMode, debug: bool, command: str) -> int:
    usage_ctx = getattr(exc, "ctx", None)
    if type(exc).__name__ == "NoArgsIsHelpError" and mode is OutputMode.text:
        exc.show()  # type: ignore[attr-defined]  # the help text is the useful answer here
        return ExitCode.USAGE
    hint = f"see `{usage_ctx.command_path} --help`" if usage_ctx is not None else "see `genaiops --help`"
    message = (
        exc.format_message() if type(exc).__name__ != "NoArgsIsHelpError" else "a subcommand is required"
    )
    return _report(UsageError(message, hint=hint), mode, debug, command)


def _report(exc: GenAIOpsError, mode: OutputMode, debug: bool, command: str) -> int:
    app_ctx = _state.get("app")
    if isinstance(app_ctx, AppContext):
        console = app_ctx.console
        debug = debug or app_ctx.debug
        command = app_ctx.command or command
    else:
        console = Console(output=mode)
    console.error(command, exc, "".join(traceback.format_exception(exc)) if debug else None)
    return exc.exit_code
