"""The command tree's shape: global options accepted on every command, and help without noise.

Users of az, azd, kubectl and gh write `genaiops status -e dev -o json` as readily as
`genaiops -o json status -e dev`. The root callback declares the global options once; this group
attaches a copy of each to every subcommand (unless the command declares the same flag itself, as
`--env` is), so click parses them in either place and `<command> --help` lists them. A copy never
reaches the command function: its callback hands an explicitly given value to the AppContext the
root callback built, which runs before any subcommand is parsed.
"""

from __future__ import annotations

import copy
import sys
from typing import Any

from typer._click import Command, Context, Parameter
from typer._click.core import ParameterSource
from typer.core import TyperGroup, TyperOption

# Root options that mean the same on every command (by their parameter name in cli.root).
GLOBAL_OPTIONS = ("manifest", "env", "output", "verbose", "quiet", "no_color", "debug", "yes")
GLOBAL_PANEL = "Global options"
_ATTACHED = "_genaiops_globals_attached"


def given_after(ctx: Context, name: str) -> Any:
    """A global option's value typed after the subcommand, also during shell completion (when the
    root callback does not run): completion reads `-f` from here."""
    return ctx.meta.get(f"genaiops.global.{name}")


def _apply_global(ctx: Context, param: Parameter, value: Any) -> Any:
    if ctx.get_parameter_source(param.name) is not ParameterSource.COMMANDLINE:
        return value
    ctx.meta[f"genaiops.global.{param.name.removeprefix('global_')}"] = value
    if ctx.resilient_parsing:
        return value
    from genaiops_cli.context import AppContext

    obj = ctx.find_root().obj
    if isinstance(obj, AppContext):
        obj.set_global(param.name.removeprefix("global_"), value)
    return value


def _hide_flag_metavar(params: list[Parameter]) -> None:
    """A flag takes no value, so its help row shows none (typer prints `<bool>` / `<int>`)."""
    for param in params:
        if isinstance(param, TyperOption) and (
            param.is_flag or param.count or param.type_descriptor.annotation is bool
        ):
            param.display_type_rich = lambda ctx: None  # type: ignore[method-assign]
            param.show_default = False  # "[default: 0]" on -v says nothing


def _polish_help(command: Command) -> None:
    _hide_flag_metavar(command.params)
    make_help_option = command.get_help_option

    def help_option(ctx: Context) -> Parameter | None:
        option = make_help_option(ctx)
        if option is not None:
            _hide_flag_metavar([option])
        return option

    command.get_help_option = help_option  # type: ignore[method-assign]


def _attach_globals(command: Command, root_params: list[Parameter]) -> None:
    if getattr(command, _ATTACHED, False):
        return
    setattr(command, _ATTACHED, True)
    _polish_help(command)
    if isinstance(command, TyperGroup):
        for sub in command.commands.values():
            _attach_globals(sub, root_params)
        return
    taken = {opt for p in command.params for opt in (*p.opts, *p.secondary_opts)}
    for original in root_params:
        if original.name not in GLOBAL_OPTIONS or taken & {*original.opts, *original.secondary_opts}:
            continue
        option = copy.copy(original)
        option.name = f"global_{original.name}"
        option.expose_value = False
        option.is_eager = False
        option.envvar = None  # the root reads GENAIOPS_ENV; a copy must not re-apply it
        option.callback = _apply_global
        option.rich_help_panel = GLOBAL_PANEL  # type: ignore[attr-defined]
        command.params.append(option)


def _colorless_typer_help() -> None:
    """Set typer.rich_utils.COLOR_SYSTEM = None, which typer's help and usage-error renderer reads.
    Importing that module costs 60–130 ms here (rich.markdown, rich.traceback, markdown_it) and only
    help and usage errors need it, so when it is not loaded yet the setting is applied the moment
    something imports it, instead of importing it on every NO_COLOR command."""
    loaded = sys.modules.get("typer.rich_utils")
    if loaded is not None:
        loaded.COLOR_SYSTEM = None  # type: ignore[attr-defined]
    elif not any(isinstance(f, _ColorlessOnImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _ColorlessOnImport())


class _ColorlessOnImport:
    """A meta-path finder that lets the normal finders locate typer.rich_utils, then sets its
    COLOR_SYSTEM right after the module body runs (and removes itself)."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        if name != "typer.rich_utils":
            return None
        import importlib.util

        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None:
            return spec
        run_body = spec.loader.exec_module

        def exec_module(module: Any) -> None:
            run_body(module)
            module.COLOR_SYSTEM = None

        spec.loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


class GenaiopsGroup(TyperGroup):
    """The root group: every subcommand it hands out carries the global options."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        _polish_help(self)

    def main(self, args: Any = None, *rest: Any, **kwargs: Any) -> Any:
        from genaiops_cli.console import color_disabled

        if color_disabled("--no-color" not in (args or ())):
            _colorless_typer_help()  # help and usage text too: no escape codes at all
        return super().main(args, *rest, **kwargs)

    def get_params(self, ctx: Context) -> list[Parameter]:
        _hide_flag_metavar(self.params)  # typer appends the completion options after __init__
        return super().get_params(ctx)

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            _attach_globals(command, self.params)
        return command
